"""PAIS telemetry configured with in-memory exporters, and readers for what they collected."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from pais_core import Settings
from pais_telemetry import Telemetry, configure, current_telemetry

__all__ = ["InMemory", "configure_in_memory", "global_telemetry_reset"]


@dataclass
class InMemory:
    """Telemetry configured with in-memory exporters, and readers for what they collected."""

    telemetry: Telemetry
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def spans_by_name(self) -> dict[str, list[ReadableSpan]]:
        self.telemetry.force_flush()
        found: dict[str, list[ReadableSpan]] = {}
        for span in self.spans.get_finished_spans():
            found.setdefault(span.name, []).append(span)
        return found

    def wait_for_spans(self, name: str, *, count: int = 1, timeout: float = 10.0) -> list[ReadableSpan]:
        """Block until `count` spans `name` have ended (a server span may end after the client has its answer)."""
        deadline = time.monotonic() + timeout
        while len(found := self.spans_by_name().get(name, [])) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} spans {name!r} ended within {timeout}s")
            time.sleep(0.02)
        return found

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every point of metric `name`."""
        data = self.reader.get_metrics_data()
        return [
            (dict(point.attributes or {}), point)
            for resource_metrics in (data.resource_metrics if data else ())
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


def configure_in_memory(settings: Settings) -> InMemory:
    """`pais_telemetry.configure(settings)` exporting every signal in memory (stdout logging untouched)."""
    spans, reader, logs = InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogRecordExporter()
    telemetry = configure(settings, setup_logging=False, span_exporter=spans, metric_reader=reader, log_exporter=logs)
    return InMemory(telemetry, spans, reader, logs)


@contextmanager
def global_telemetry_reset() -> Generator[None]:
    """No OpenTelemetry providers installed inside; on exit, what `configure()` installed is shut down,
    the providers are unset again and the root logger's handlers and level are restored."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    _forget_global_providers()
    try:
        yield
    finally:
        telemetry = current_telemetry()
        if telemetry is not None:
            telemetry.shutdown(timeout=5)
        _forget_global_providers()
        root.handlers[:] = handlers
        root.setLevel(level)


def _forget_global_providers() -> None:
    """Unset the global tracer, meter and logger providers: the API allows setting each once per process."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_internal._LOGGER_PROVIDER = None
