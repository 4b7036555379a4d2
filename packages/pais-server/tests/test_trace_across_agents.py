"""One delegated request, one trace: an orchestrator and a worker as real processes exporting to our OTLP receiver.

The orchestrator's scripted model calls `delegate_to_worker`; the delegation goes over A2A to the
worker, whose scripted model answers. Everything asserted here is what the receiver decoded from
the two processes' OTLP/HTTP exports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from pais_testing.agent_processes import AgentProcess, AgentProcesses
from pais_testing.otlp_receiver import OtlpReceiver
from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call
from pais_testing.trace_tree import TraceTree, wait_for_trace

from pais_telemetry import A2A_TASK_SPAN, A2A_TASK_STATE

TASK = "count the papayas"
WORKER_ANSWER = "seven papayas"
ORCHESTRATOR = "orchestrator"
WORKER = "worker"
REQUEST_SPAN = "POST /v1/chat/completions"
A2A_REQUEST_SPAN = "POST /"

# Each orchestrator span of the delegation with its parent, then the worker's, down to its model call.
CHAIN = [
    (WORKER, "chat scripted"),
    (WORKER, f"invoke_agent {WORKER}"),
    (WORKER, A2A_TASK_SPAN),
    (WORKER, A2A_REQUEST_SPAN),
    (ORCHESTRATOR, f"delegate.{WORKER}"),
    (ORCHESTRATOR, f"execute_tool delegate_to_{WORKER}"),
    (ORCHESTRATOR, f"invoke_agent {ORCHESTRATOR}"),
    (ORCHESTRATOR, REQUEST_SPAN),
]


@dataclass
class Delegated:
    """One chat sent to the orchestrator, and the trace it produced."""

    receiver: OtlpReceiver
    orchestrator: AgentProcess
    worker: AgentProcess
    trace: TraceTree


def _env(model: ScriptedModelServer, receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "MODEL_API_URL": model.url,
        "MODEL_NAME": model.model_name,
        "LOG_LEVEL": "INFO",
        "OTEL_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
    }


@pytest.fixture(scope="module")
def delegated() -> Iterator[Delegated]:
    with (
        OtlpReceiver() as receiver,
        ScriptedModelServer(scripted(tool_call(f"delegate_to_{WORKER}", task=TASK), "delegated")) as orchestrator_model,
        ScriptedModelServer(scripted(WORKER_ANSWER)) as worker_model,
        AgentProcesses() as processes,
    ):
        worker = processes.start(WORKER, _env(worker_model, receiver))
        orchestrator = processes.start(
            ORCHESTRATOR, {**_env(orchestrator_model, receiver), "AGENT_SUB_AGENTS": f"{WORKER}:{worker.url}"}
        )
        assert orchestrator.answer("ask the worker") == "delegated"
        assert [call.last_user_text for call in worker_model.calls] == [TASK]
        [root] = receiver.wait_for_spans(
            lambda s: (s.resource.get("service.name"), s.name) == (ORCHESTRATOR, REQUEST_SPAN)
        )
        trace = wait_for_trace(receiver, root.trace_id, CHAIN)
        yield Delegated(receiver, orchestrator, worker, trace)


def test_the_orchestrator_and_the_worker_share_one_trace(delegated: Delegated) -> None:
    trace = delegated.trace
    assert {s.resource["service.name"] for s in trace.spans} == {ORCHESTRATOR, WORKER}
    worker_spans = [s for s in delegated.receiver.spans if s.resource["service.name"] == WORKER]
    # every span the worker emitted belongs to the orchestrator's trace (its probes are not traced)
    assert {s.trace_id for s in worker_spans} == {trace.trace_id}


def test_parent_links_run_from_the_worker_model_call_up_to_the_orchestrator_request(delegated: Delegated) -> None:
    trace = delegated.trace
    worker_model_call = trace.one(WORKER, "chat scripted")
    assert trace.ancestry(worker_model_call) == CHAIN
    # the orchestrator's request span is the root; no span points at a parent outside the trace
    root = trace.one(ORCHESTRATOR, REQUEST_SPAN)
    assert trace.roots() == [root]
    assert trace.orphans() == []
    # the delegation is the client side of the worker's A2A request: no HTTP client span in between
    delegate = trace.one(ORCHESTRATOR, f"delegate.{WORKER}")
    worker_request = trace.one(WORKER, A2A_REQUEST_SPAN)
    assert worker_request.parent_span_id == delegate.span_id
    assert (delegate.kind, worker_request.kind, root.kind) == (
        ProtoSpan.SPAN_KIND_CLIENT,
        ProtoSpan.SPAN_KIND_SERVER,
        ProtoSpan.SPAN_KIND_SERVER,
    )
    assert delegate.attributes["pais.delegation.target"] == WORKER
    assert delegate.attributes["pais.delegation.outcome"] == "success"
    assert delegate.attributes["pais.delegation.transport"] == "a2a"
    assert trace.one(WORKER, A2A_TASK_SPAN).attributes[A2A_TASK_STATE] == "completed"
    # the orchestrator's memory calls are events on its request span; its model spans are in the run
    assert [name for name, _ in root.events] == ["memory.load_history", "memory.append"]
    model_calls = [s for s in trace.spans if (s.resource["service.name"], s.name) == (ORCHESTRATOR, "chat scripted")]
    assert len(model_calls) == 2
    assert {s.parent_span_id for s in model_calls} == {trace.one(ORCHESTRATOR, f"invoke_agent {ORCHESTRATOR}").span_id}


def test_the_delegation_metrics_arrive(delegated: Delegated) -> None:
    receiver = delegated.receiver

    def of_the_orchestrator(name: str) -> list[float | int | None]:
        points = receiver.wait_for_metric_points(
            lambda p: p.name == name and p.resource.get("service.name") == ORCHESTRATOR
        )
        assert {tuple(sorted(p.attributes.items())) for p in points} == {(("success", True), ("target", WORKER))}
        return [p.value if p.kind == "sum" else p.count for p in points]

    # cumulative points, exported again every interval: each says one delegation
    assert set(of_the_orchestrator("kaos.delegations")) == {1}
    assert set(of_the_orchestrator("kaos.delegation.duration")) == {1}
    [duration] = {p.sum for p in receiver.metric_points if p.name == "kaos.delegation.duration"}
    assert duration is not None
    delegate = delegated.trace.one(ORCHESTRATOR, f"delegate.{WORKER}")
    assert duration == pytest.approx((delegate.end_ns - delegate.start_ns) / 1e9, abs=0.05)
    assert not [
        p
        for p in receiver.metric_points
        if p.name.startswith("kaos.delegation") and p.resource["service.name"] == WORKER
    ]


def test_log_records_of_both_processes_carry_the_trace_and_the_logger_name(delegated: Delegated) -> None:
    trace = delegated.trace
    receiver = delegated.receiver

    def access_log(service: str, request_line: str) -> None:
        [record] = receiver.wait_for_logs(
            lambda r: r.resource.get("service.name") == service and f'"{request_line} HTTP/1.1" 200' in str(r.body)
        )
        assert record.trace_id == trace.trace_id
        assert record.span_id == trace.one(service, request_line).span_id
        assert (record.scope, record.attributes["logger.name"]) == ("uvicorn.access", "uvicorn.access")

    access_log(ORCHESTRATOR, REQUEST_SPAN)
    access_log(WORKER, A2A_REQUEST_SPAN)
    # the orchestrator logs the finished delegation inside the delegation span
    [call] = receiver.wait_for_logs(lambda r: str(r.body).startswith(f"delegation to {WORKER}: success in "))
    assert (call.trace_id, call.span_id) == (trace.trace_id, trace.one(ORCHESTRATOR, f"delegate.{WORKER}").span_id)
    assert (call.scope, call.attributes["logger.name"]) == ("pais_delegation", "pais_delegation")
    # at INFO the HTTP clients' line per request (every model call) stays out of the logs
    assert not [r for r in receiver.logs if r.attributes["logger.name"] in ("httpx", "httpx2")]
    in_trace = [r for r in receiver.logs if r.trace_id == trace.trace_id]
    assert {r.resource["service.name"] for r in in_trace} == {ORCHESTRATOR, WORKER}
    assert {r.span_id for r in in_trace} <= set(trace.by_id)
    # stdout lines carry the same trace id
    for process in (delegated.orchestrator, delegated.worker):
        assert f"trace_id={trace.trace_id}" in process.process.output()
