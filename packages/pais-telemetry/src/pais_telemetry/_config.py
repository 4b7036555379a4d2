"""One-call OpenTelemetry setup: tracer, meter and logger providers built from the PAIS settings.

Only the OpenTelemetry API is imported at module level; the SDK and the chosen OTLP exporter are
imported inside `configure()` when telemetry is enabled, so a server with telemetry off pays nothing.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from opentelemetry import _logs, metrics, trace

from pais_core import Settings

from ._logging import configure_logging, install_otlp_log_handler, remove_otlp_log_handler

if TYPE_CHECKING:
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["Telemetry", "configure", "current_telemetry"]

_log = logging.getLogger("pais_telemetry")
_lock = threading.Lock()
_active: Telemetry | None = None

# The API's placeholders before anything is installed. A NoOp provider somebody set on purpose counts
# as installed: we never override it.
_DEFAULT_PROVIDERS = frozenset({"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"})
_SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}


@dataclass(eq=False)
class Telemetry:
    """What `configure()` set up; `shutdown()` flushes and stops only what it installed itself.

    Attributes:
        enabled: spans, metrics or logs go somewhere (ours or a host application's providers);
            the server adds its telemetry middleware only when this is true.
        installed: the signals (`traces`, `metrics`, `logs`) whose SDK providers this call installed.
        reused: the signals whose providers a host application had already installed.
    """

    enabled: bool
    installed: frozenset[str] = frozenset()
    reused: frozenset[str] = frozenset()
    _providers: tuple[Any, ...] = field(default=(), repr=False)
    _stopped: bool = field(default=False, repr=False)

    def force_flush(self, *, timeout: float = 5.0) -> bool:
        """Export everything buffered now; False when some provider did not finish within `timeout` seconds."""
        return _run_bounded([p.force_flush for p in self._providers], timeout)

    def shutdown(self, *, timeout: float = 5.0) -> None:
        """Flush and stop the installed providers, bounded by `timeout` seconds in total; never raises."""
        global _active
        with _lock:
            if _active is self:
                _active = None
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.shutdown)
        if "logs" in self.installed:
            remove_otlp_log_handler()
        if not _run_bounded([p.shutdown for p in self._providers], timeout):
            _log.warning("telemetry shutdown did not finish within %.1fs; unexported data is dropped", timeout)


def current_telemetry() -> Telemetry | None:
    """The handle of the `configure()` call that installed providers, until its `shutdown()`."""
    return _active


def configure(
    settings: Settings,
    *,
    setup_logging: bool = True,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    log_exporter: LogRecordExporter | None = None,
) -> Telemetry:
    """Install the OpenTelemetry providers once for this process and set up log correlation.

    With `settings.otel_enabled`, each signal gets an SDK provider exporting over OTLP (protocol and
    endpoint from the settings; per-signal `OTEL_EXPORTER_OTLP_<SIGNAL>_*` and `OTEL_<SIGNAL>_EXPORTER=none`
    are honoured) unless a host application already installed a provider for it, which is then reused.
    Exports run in background threads with bounded queues and timeouts; this call does no network I/O.
    Once providers are installed, later calls return the same handle (a call that installs nothing is
    not remembered). Never raises: on failure telemetry stays off.

    Args:
        settings: the PAIS settings (`OTEL_*`, `LOG_LEVEL`, `LOG_FORMAT`).
        setup_logging: also install the correlated stdout log handler (`configure_logging`).
        span_exporter: export spans here instead of OTLP (tests, custom hosts).
        metric_reader: read metrics with this reader instead of a periodic OTLP exporter.
        log_exporter: export log records here instead of OTLP.
    """
    global _active
    if setup_logging:
        configure_logging(settings)
    with _lock:
        if _active is not None:
            return _active
        try:
            telemetry = _install(settings, span_exporter, metric_reader, log_exporter)
        except Exception:
            _log.exception("OpenTelemetry setup failed; continuing without telemetry export")
            return Telemetry(enabled=_any_host_provider())
        if telemetry.installed:
            _active = telemetry
        return telemetry


def _install(
    settings: Settings,
    span_exporter: SpanExporter | None,
    metric_reader: MetricReader | None,
    log_exporter: LogRecordExporter | None,
) -> Telemetry:
    reused = frozenset(
        signal
        for signal, provider in (
            ("traces", trace.get_tracer_provider()),
            ("metrics", metrics.get_meter_provider()),
            ("logs", _logs.get_logger_provider()),
        )
        if type(provider).__name__ not in _DEFAULT_PROVIDERS
    )
    if not settings.otel_enabled:
        return Telemetry(enabled=bool(reused), reused=reused)
    wanted = {
        signal
        for signal in ("traces", "metrics", "logs")
        if signal not in reused and os.environ.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip().lower() != "none"
    }
    if not wanted:
        return Telemetry(enabled=bool(reused), reused=reused)
    resource = _resource(settings)
    exporters = _OtlpExporters(settings)
    # Build everything first and publish afterwards, so a failure leaves no half-installed globals.
    built: dict[str, Any] = {}
    try:
        if "traces" in wanted:
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            built["traces"] = TracerProvider(resource=resource, shutdown_on_exit=False)
            built["traces"].add_span_processor(BatchSpanProcessor(span_exporter or exporters.spans()))
        if "metrics" in wanted:
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            reader = metric_reader or PeriodicExportingMetricReader(exporters.metrics())
            built["metrics"] = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        if "logs" in wanted:
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

            built["logs"] = LoggerProvider(resource=resource, shutdown_on_exit=False)
            built["logs"].add_log_record_processor(BatchLogRecordProcessor(log_exporter or exporters.logs()))
    except Exception:
        _run_bounded([provider.shutdown for provider in built.values()], 2.0)
        raise
    if "traces" in built:
        trace.set_tracer_provider(built["traces"])
    if "metrics" in built:
        metrics.set_meter_provider(built["metrics"])
    if "logs" in built:
        _logs.set_logger_provider(built["logs"])
        install_otlp_log_handler(built["logs"])
    installed = frozenset(wanted)
    _log.info(
        "OpenTelemetry export on (%s to %s over %s)",
        ", ".join(sorted(installed)),
        settings.otel_exporter_otlp_endpoint or "the default endpoint",
        settings.otel_exporter_otlp_protocol,
    )
    telemetry = Telemetry(enabled=True, installed=installed, reused=reused, _providers=tuple(built.values()))
    # The SDK's own exit hooks wait up to 30 s per provider for a dead collector; ours is bounded.
    atexit.register(telemetry.shutdown)
    return telemetry


def _any_host_provider() -> bool:
    return type(trace.get_tracer_provider()).__name__ not in _DEFAULT_PROVIDERS


def _resource(settings: Settings) -> Resource:
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, str] = {}
    for pair in (settings.otel_resource_attributes or "").split(","):
        key, _, value = pair.partition("=")
        if key.strip():
            attributes[key.strip()] = unquote(value.strip())
    attributes["service.name"] = settings.service_name
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES from the process environment; ours win on conflicts.
    return Resource.create(attributes)


class _OtlpExporters:
    """Builds the OTLP exporters of the configured protocol, importing only that protocol's package."""

    def __init__(self, settings: Settings) -> None:
        self._grpc = settings.otel_exporter_otlp_protocol == "grpc"
        self._endpoint = settings.otel_exporter_otlp_endpoint

    def _endpoint_for(self, signal: str) -> str | None:
        if os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or self._endpoint is None:
            return None  # the exporter reads the per-signal variable or its default itself
        if self._grpc:
            return self._endpoint
        return f"{self._endpoint.rstrip('/')}/{_SIGNAL_PATHS[signal]}"

    def spans(self) -> SpanExporter:
        if self._grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

            return GrpcSpanExporter(endpoint=self._endpoint_for("traces"))
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=self._endpoint_for("traces"))

    def metrics(self) -> MetricExporter:
        if self._grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetricExporter,
            )

            return GrpcMetricExporter(endpoint=self._endpoint_for("metrics"))
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(endpoint=self._endpoint_for("metrics"))

    def logs(self) -> LogRecordExporter:
        if self._grpc:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter

            return GrpcLogExporter(endpoint=self._endpoint_for("logs"))
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(endpoint=self._endpoint_for("logs"))


def _run_bounded(calls: Sequence[Callable[[], object]], timeout: float) -> bool:
    """Run `calls` in parallel daemon threads; True when all finished without error within `timeout`."""
    results: list[bool] = []

    def run(call: Callable[[], object]) -> None:
        try:
            results.append(call() is not False)
        except Exception:
            _log.warning("telemetry flush/shutdown step failed", exc_info=True)
            results.append(False)

    threads = [threading.Thread(target=run, args=(call,), name="pais-telemetry-stop", daemon=True) for call in calls]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(results) == len(calls) and all(results)
