"""The `a2a.task` span of each A2A task run, checked with in-memory exporters on a served PAIS app."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from pais_testing.agent_processes import a2a_user_message as user_message
from pais_testing.otel_in_memory import InMemory, configure_in_memory, global_telemetry_reset
from pais_testing.scripted_model import Reply, ScriptedModelServer

from pais_core import Settings
from pais_telemetry import A2A_CONTEXT_ID, A2A_TASK_ID, A2A_TASK_SPAN, A2A_TASK_STATE

from .conftest import Served, ServeFactory
from .test_a2a_server import SLOW_MODEL_SECONDS, rpc, sse, v1_message, wait_for_state

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"}
REQUEST_SPAN = "POST /"


@pytest.fixture
def in_memory() -> Iterator[InMemory]:
    with global_telemetry_reset():
        yield configure_in_memory(Settings(agent_name="test-agent", otel_enabled=True))


@pytest.fixture
def traced(in_memory: InMemory, serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> Served:
    """PAIS on the in-memory providers (installed before the app is built)."""
    return serve_pais(model_api_url=scripted_model.url, model_name="scripted")


def hex_id(span_id: int, width: int = 16) -> str:
    return format(span_id, f"0{width}x")


def task_span(in_memory: InMemory) -> ReadableSpan:
    [span] = in_memory.wait_for_spans(A2A_TASK_SPAN)
    return span


def request_spans(in_memory: InMemory, count: int) -> list[ReadableSpan]:
    return sorted(in_memory.wait_for_spans(REQUEST_SPAN, count=count), key=lambda s: s.start_time or 0)


def assert_task_span(span: ReadableSpan, *, task_id: str, context_id: str, state: str) -> None:
    assert span.kind == SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {A2A_TASK_ID: task_id, A2A_CONTEXT_ID: context_id, A2A_TASK_STATE: state}
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "pais"


def test_blocking_send_runs_the_task_in_a_child_span_of_the_request(traced: Served, in_memory: InMemory) -> None:
    task = rpc(traced, "message/send", {"message": user_message("hi", "ctx-t")}, headers=TRACEPARENT)
    assert task["status"]["state"] == "completed"

    [request] = request_spans(in_memory, 1)
    assert request.parent is not None
    assert (hex_id(request.context.trace_id, 32), hex_id(request.parent.span_id)) == (TRACE_ID, CALLER_SPAN_ID)
    span = task_span(in_memory)
    assert_task_span(span, task_id=task["id"], context_id="ctx-t", state="completed")
    assert span.parent is not None
    assert span.parent.span_id == request.context.span_id
    assert span.context.trace_id == request.context.trace_id
    assert span.status.status_code == StatusCode.UNSET
    # the agent run is inside the task span, and its memory calls are events on it
    [run] = in_memory.wait_for_spans("invoke_agent test-agent")
    assert run.parent is not None
    assert run.parent.span_id == span.context.span_id
    assert [event.name for event in span.events] == ["memory.load_history", "memory.append"]


@pytest.mark.parametrize("method", ["message/stream", "SendStreamingMessage"])
def test_streamed_task_span_is_a_child_of_the_streaming_request(
    method: str, traced: Served, in_memory: InMemory
) -> None:
    message = user_message("hi", "ctx-s") if method == "message/stream" else v1_message("hi", "ctx-s")
    events = sse(traced, method, {"message": message})
    assert events

    [request] = request_spans(in_memory, 1)
    span = task_span(in_memory)
    stored = rpc(traced, "tasks/list", {"contextId": "ctx-s"})["tasks"]
    assert [t["status"]["state"] for t in stored] == ["completed"]
    assert_task_span(span, task_id=stored[0]["id"], context_id="ctx-s", state="completed")
    assert span.parent is not None
    assert span.parent.span_id == request.context.span_id


def test_cancelled_background_task_ends_its_span_canceled_in_the_sending_request_trace(
    traced: Served, in_memory: InMemory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = lambda call: Reply(text="too late", delay=SLOW_MODEL_SECONDS)
    params = {"message": user_message("slow", "ctx-c"), "configuration": {"blocking": False}}
    task = rpc(traced, "message/send", params, headers=TRACEPARENT)
    assert wait_for_state(traced, task["id"], {"working"})["status"]["state"] == "working"
    deadline = time.monotonic() + 10
    while not scripted_model.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert A2A_TASK_SPAN not in in_memory.spans_by_name()  # the send has answered; the task still runs

    assert rpc(traced, "tasks/cancel", {"id": task["id"]})["status"]["state"] == "canceled"
    span = task_span(in_memory)
    assert_task_span(span, task_id=task["id"], context_id="ctx-c", state="canceled")
    assert span.status.status_code == StatusCode.UNSET  # a cancel by request is no error
    # the send's request span is the parent although it ended long before the task; not the cancel's
    send = next(s for s in request_spans(in_memory, 3) if s.parent and hex_id(s.parent.span_id) == CALLER_SPAN_ID)
    assert span.parent is not None
    assert span.parent.span_id == send.context.span_id
    assert hex_id(span.context.trace_id, 32) == TRACE_ID
    assert send.end_time is not None
    assert span.end_time is not None
    assert send.end_time < span.end_time


def test_failed_task_span_has_an_error_status(
    traced: Served, in_memory: InMemory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = lambda call: Reply(status=500)
    task = rpc(traced, "message/send", {"message": user_message("boom", "ctx-f")})
    assert task["status"]["state"] == "failed"

    span = task_span(in_memory)
    assert_task_span(span, task_id=task["id"], context_id="ctx-f", state="failed")
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description is not None
    assert "HTTP 500" in span.status.description
