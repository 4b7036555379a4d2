"""Telemetry of a real `python -m pais_server` process exporting over OTLP/HTTP to a receiver of our own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pais_testing.otlp_receiver import OtlpReceiver
from pais_testing.ports import free_port, wait_for_http
from pais_testing.process import pais_server_process
from pais_testing.scripted_model import ScriptedModelServer, scripted

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def _env(model: ScriptedModelServer, endpoint: str) -> dict[str, str]:
    return {
        "AGENT_NAME": "worker-a",
        "MODEL_API_URL": model.url,
        "MODEL_NAME": model.model_name,
        "OTEL_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_RESOURCE_ATTRIBUTES": "k8s.namespace.name=kaos",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
    }


def test_request_trace_metrics_and_logs_reach_the_collector(
    receiver: OtlpReceiver, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted("hello")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with pais_server_process(_env(scripted_model, receiver.endpoint), port=port) as proc:
        wait_for_http(f"{base}/health", timeout=60)
        headers = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"}
        response = httpx.post(f"{base}/v1/chat/completions", json=CHAT, headers=headers, timeout=30)
        assert response.status_code == 200, proc.output()

        [server] = receiver.wait_for_spans(lambda s: s.name == "POST /v1/chat/completions")
        assert (server.trace_id, server.parent_span_id) == (TRACE_ID, CALLER_SPAN_ID)
        assert server.attributes["http.response.status_code"] == 200
        assert server.resource["service.name"] == "worker-a"
        assert server.resource["k8s.namespace.name"] == "kaos"
        [run] = receiver.wait_for_spans(lambda s: s.name == "invoke_agent worker-a")
        assert (run.trace_id, run.parent_span_id) == (TRACE_ID, server.span_id)
        [model] = receiver.wait_for_spans(lambda s: s.name == "chat scripted")
        assert (model.trace_id, model.parent_span_id) == (TRACE_ID, run.span_id)
        # memory calls are events on the request span, in order
        assert [(name, attributes["kaos.memory.backend"]) for name, attributes in server.events] == [
            ("memory.load_history", "local"),
            ("memory.append", "local"),
        ]
        assert not [s for s in receiver.spans if s.name.startswith("memory.")]

        receiver.wait_for_metric_points(
            lambda p: (
                p.name == "http.server.request.duration" and p.attributes.get("http.route") == "/v1/chat/completions"
            )
        )
        tokens = receiver.wait_for_metric_points(lambda p: p.name == "gen_ai.client.token.usage", count=2)
        assert {p.attributes["gen_ai.token.type"] for p in tokens} == {"input", "output"}
        receiver.wait_for_metric_points(lambda p: p.name == "kaos.memory.duration")
        [access] = receiver.wait_for_logs(lambda r: "POST /v1/chat/completions" in str(r.body))
        assert access.trace_id == TRACE_ID
        assert access.attributes["logger.name"] == "uvicorn.access"
        assert f"trace_id={TRACE_ID}" in proc.output()
    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/health"]


def test_collector_down_serving_goes_on(scripted_model: ScriptedModelServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    closed = f"http://127.0.0.1:{free_port()}"
    with pais_server_process(_env(scripted_model, closed), port=port) as proc:
        wait_for_http(f"{base}/ready", timeout=60)
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(10):
                started = time.monotonic()
                response = client.post("/v1/chat/completions", json=CHAT)
                assert response.status_code == 200, proc.output()
                assert time.monotonic() - started < 3.0  # generous: an export never sits on the request path
        started = time.monotonic()
        returncode = proc.stop(grace=20)
    assert returncode in (0, -15), proc.output()
    assert time.monotonic() - started < 15.0  # the telemetry flush at exit is bounded


def test_a_stop_signal_exports_what_is_still_batched(
    receiver: OtlpReceiver, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted("hello")
    env = _env(scripted_model, receiver.endpoint)
    for batching in ("OTEL_METRIC_EXPORT_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY"):
        del env[batching]  # the SDK defaults: spans and logs every 5 s, metrics every 60 s
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with pais_server_process(env, port=port) as proc:
        wait_for_http(f"{base}/ready", timeout=60)
        for _ in range(3):
            assert httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
        assert receiver.requests("traces") == 0  # still batched
        returncode = proc.stop(grace=20)
    assert returncode in (0, -15), proc.output()

    assert len([s for s in receiver.spans if s.name == "POST /v1/chat/completions"]) == 3
    [duration] = [p for p in receiver.metric_points if p.name == "http.server.request.duration"]
    assert duration.count == 3
    assert len([r for r in receiver.logs if "POST /v1/chat/completions" in str(r.body)]) == 3


def test_a_caller_that_does_not_sample_gets_no_spans_but_tokens_are_counted(
    receiver: OtlpReceiver, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted("hello")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with pais_server_process(_env(scripted_model, receiver.endpoint), port=port) as proc:
        wait_for_http(f"{base}/ready", timeout=60)
        for flags in ("00", "01"):  # not sampled, then sampled
            headers = {"traceparent": f"00-{TRACE_ID[:-2]}{flags}-{CALLER_SPAN_ID}-{flags}"}
            response = httpx.post(f"{base}/v1/chat/completions", json=CHAT, headers=headers, timeout=30)
            assert response.status_code == 200, proc.output()

        [sampled_run] = receiver.wait_for_spans(lambda s: s.name == "invoke_agent worker-a")
        assert sampled_run.trace_id == f"{TRACE_ID[:-2]}01"
        tokens = receiver.wait_for_metric_points(lambda p: p.name == "gen_ai.client.token.usage", count=4)
    assert {s.trace_id for s in receiver.spans} == {f"{TRACE_ID[:-2]}01"}
    # one turn's tokens from Pydantic AI's instrumentation, the unsampled turn's from PAIS
    assert {(p.scope, p.attributes["gen_ai.token.type"]) for p in tokens} == {
        (scope, kind) for scope in ("pydantic-ai", "pais") for kind in ("input", "output")
    }
    assert {p.count for p in tokens} == {1}
