"""configure(): providers from the settings, exported in memory and over OTLP to a real receiver."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pais_testing.otel_in_memory import InMemory, configure_in_memory
from pais_testing.otlp_receiver import OtlpReceiver
from pais_testing.ports import free_port

from pais_core import Settings
from pais_telemetry import configure, configure_logging, current_telemetry, memory_operation

RESOURCE = "k8s.namespace.name=kaos,kaos.agent=worker%20a"


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "agent_name": "agent-a",
        "otel_enabled": True,
        "otel_resource_attributes": RESOURCE,
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running
        telemetry = current_telemetry()
        if telemetry is not None:  # flush while the receiver still listens
            telemetry.shutdown(timeout=5)


def test_disabled_installs_nothing_and_imports_no_sdk() -> None:
    script = (
        "import sys, pais_telemetry\n"
        "from pais_core import Settings\n"
        "t = pais_telemetry.configure(Settings(agent_name='a'))\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter', "
        "'grpc', 'requests', 'pydantic_ai')))\n"
        "print(t.enabled, t.installed, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False frozenset() []"


def test_in_memory_exporters_get_spans_metrics_and_correlated_logs() -> None:
    configure_logging(_settings())
    exported = configure_in_memory(_settings())
    telemetry = exported.telemetry
    assert telemetry.enabled
    assert telemetry.installed == {"traces", "metrics", "logs"}

    with (
        trace.get_tracer("test").start_as_current_span("request") as request_span,
        memory_operation("append", backend="redis"),
    ):
        logging.getLogger("pais.test").warning("stored %d events", 2)
    assert telemetry.force_flush()

    finished = exported.spans_by_name()
    assert set(finished) == {"request"}  # the memory call is an event on the request's span, not a span
    [span] = finished["request"]
    [event] = span.events
    assert event.name == "memory.append"
    event_attributes = dict(event.attributes or {})
    duration = event_attributes.pop("kaos.memory.duration_ms")
    assert isinstance(duration, float)
    assert duration >= 0
    assert event_attributes == {"kaos.memory.operation": "append", "kaos.memory.backend": "redis"}
    assert span.start_time is not None
    assert span.end_time is not None
    assert span.start_time <= event.timestamp <= span.end_time
    resource = dict(span.resource.attributes)
    assert resource["service.name"] == "agent-a"
    assert resource["k8s.namespace.name"] == "kaos"
    assert resource["kaos.agent"] == "worker a"

    [(attributes, point)] = exported.metric_points("kaos.memory.duration")
    assert attributes == {"kaos.memory.operation": "append", "kaos.memory.backend": "redis"}
    assert point.count == 1

    [record] = [r for r in exported.logs.get_finished_logs() if r.log_record.body == "stored 2 events"]
    assert record.log_record.trace_id == request_span.get_span_context().trace_id
    assert record.log_record.span_id == request_span.get_span_context().span_id
    assert record.log_record.severity_text == "WARNING"
    assert dict(record.log_record.attributes or {})["logger.name"] == "pais.test"
    assert record.instrumentation_scope is not None
    assert record.instrumentation_scope.name == "pais.test"


def test_memory_operation_records_failures(in_memory: InMemory) -> None:
    with (
        trace.get_tracer("test").start_as_current_span("request"),
        pytest.raises(ConnectionError),
        memory_operation("history", backend="redis"),
    ):
        raise ConnectionError("redis down")

    [span] = in_memory.spans_by_name()["request"]
    [event] = span.events
    assert (event.name, dict(event.attributes or {})["error.type"]) == ("memory.history", "ConnectionError")
    [(attributes, _)] = in_memory.metric_points("kaos.memory.duration")
    assert attributes["error.type"] == "ConnectionError"


def test_otlp_http_export_reaches_the_receiver(receiver: OtlpReceiver) -> None:
    telemetry = configure(_settings(otel_exporter_otlp_endpoint=receiver.endpoint))
    assert telemetry.installed == {"traces", "metrics", "logs"}

    with trace.get_tracer("test").start_as_current_span("chat") as span:
        metrics.get_meter("test").create_counter("kaos.test.requests").add(3, {"route": "chat"})
        logging.getLogger("pais.chat").info("answered")
    assert telemetry.force_flush(timeout=10)

    [received] = receiver.wait_for_spans(lambda s: s.name == "chat")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert received.trace_id == trace_id
    assert received.parent_span_id == ""
    assert received.resource["service.name"] == "agent-a"
    assert received.resource["kaos.agent"] == "worker a"

    [point] = receiver.wait_for_metric_points(lambda p: p.name == "kaos.test.requests")
    assert (point.value, point.attributes, point.kind) == (3, {"route": "chat"}, "sum")
    assert point.resource["service.name"] == "agent-a"

    [log] = receiver.wait_for_logs(lambda r: r.body == "answered")
    assert (log.trace_id, log.span_id) == (trace_id, received.span_id)
    assert log.attributes["logger.name"] == "pais.chat"
    assert log.scope == "pais.chat"
    assert log.resource["k8s.namespace.name"] == "kaos"


def test_service_name_prefers_otel_service_name(receiver: OtlpReceiver) -> None:
    telemetry = configure(
        _settings(otel_exporter_otlp_endpoint=receiver.endpoint, otel_service_name="kaos-worker"),
        setup_logging=False,
    )
    trace.get_tracer("test").start_span("one").end()
    telemetry.force_flush(timeout=10)

    [span] = receiver.wait_for_spans(lambda s: s.name == "one")
    assert span.resource["service.name"] == "kaos-worker"


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_collector_down_never_raises_or_blocks(protocol: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    telemetry = configure(_settings(otel_exporter_otlp_endpoint=closed, otel_exporter_otlp_protocol=protocol))
    assert time.monotonic() - started < 2.0
    assert telemetry.installed == {"traces", "metrics", "logs"}

    started = time.monotonic()
    for i in range(200):
        with trace.get_tracer("test").start_as_current_span(f"span-{i}"):
            logging.getLogger("pais.test").info("record %d", i)
    assert time.monotonic() - started < 2.0

    started = time.monotonic()
    assert telemetry.force_flush(timeout=1.0) is False
    telemetry.shutdown(timeout=3.0)
    assert time.monotonic() - started < 5.0


def test_refusing_collector_never_raises_or_blocks(receiver: OtlpReceiver) -> None:
    receiver.status = 503
    telemetry = configure(_settings(otel_exporter_otlp_endpoint=receiver.endpoint))
    with trace.get_tracer("test").start_as_current_span("refused"):
        logging.getLogger("pais.test").info("refused record")

    started = time.monotonic()
    telemetry.force_flush(timeout=1.0)
    telemetry.shutdown(timeout=3.0)
    assert time.monotonic() - started < 5.0
    assert receiver.requests("traces") >= 1
    assert receiver.spans == []


def test_reuses_a_provider_the_host_installed() -> None:
    host_spans = InMemorySpanExporter()
    host_provider = TracerProvider()
    host_provider.add_span_processor(SimpleSpanProcessor(host_spans))
    trace.set_tracer_provider(host_provider)

    telemetry = configure(_settings(), metric_reader=InMemoryMetricReader(), log_exporter=InMemoryLogRecordExporter())
    assert telemetry.reused == {"traces"}
    assert telemetry.installed == {"metrics", "logs"}
    assert trace.get_tracer_provider() is host_provider

    trace.get_tracer("test").start_span("host").end()
    telemetry.shutdown()
    assert [s.name for s in host_spans.get_finished_spans()] == ["host"]
    trace.get_tracer("test").start_span("after").end()  # our shutdown left the host's provider running
    assert [s.name for s in host_spans.get_finished_spans()] == ["host", "after"]


def test_disabled_settings_report_a_host_provider_without_installing() -> None:
    trace.set_tracer_provider(TracerProvider())
    telemetry = configure(_settings(otel_enabled=False))
    assert (telemetry.enabled, telemetry.installed, telemetry.reused) == (True, frozenset(), {"traces"})
    assert type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"


def test_configure_is_idempotent() -> None:
    first = configure(_settings(), span_exporter=InMemorySpanExporter(), log_exporter=InMemoryLogRecordExporter())
    provider = trace.get_tracer_provider()
    second = configure(_settings(agent_name="other"), span_exporter=InMemorySpanExporter())
    assert second is first
    assert trace.get_tracer_provider() is provider
    kinds = sorted(type(h).__name__ for h in logging.getLogger().handlers if type(h).__module__.startswith("pais"))
    assert kinds == ["_OtlpLogHandler", "_StdoutHandler"]


def test_a_call_that_installs_nothing_is_not_remembered() -> None:
    off = configure(_settings(otel_enabled=False))
    assert current_telemetry() is None
    on = configure(_settings(), span_exporter=InMemorySpanExporter(), metric_reader=InMemoryMetricReader())
    assert (off.enabled, on.enabled) == (False, True)
    assert current_telemetry() is on


def test_signal_exporter_none_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    telemetry = configure(_settings(), span_exporter=InMemorySpanExporter(), metric_reader=InMemoryMetricReader())
    assert telemetry.installed == {"traces", "metrics"}
    assert type(_logs.get_logger_provider()).__name__ == "ProxyLoggerProvider"


def test_setup_failure_leaves_telemetry_off_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    broken_reader: InMemoryMetricReader = object()  # type: ignore[assignment]  # not a MetricReader at all
    telemetry = configure(_settings(), span_exporter=InMemorySpanExporter(), metric_reader=broken_reader)
    assert (telemetry.enabled, telemetry.installed) == (False, frozenset())
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert "OpenTelemetry setup failed" in caplog.text
