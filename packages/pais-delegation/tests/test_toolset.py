"""DelegationToolset inside real Pydantic AI agent runs, calling sub-agents on loopback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pais_testing.fake_agents import FakeSubAgent
from pais_testing.ports import free_port
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from pais_delegation import (
    DEPTH_HEADER,
    METADATA_KEY,
    SESSION_HEADER,
    DelegationToolset,
    RemoteAgent,
    delegate_tool_name,
    delegation_scope,
)

ModelFn = Callable[[list[ModelMessage], AgentInfo], ModelResponse]


def delegating_model(tool: str, task: str, seen: list[AgentInfo] | None = None) -> FunctionModel:
    """A model that calls `tool` once, then answers with the tool's result (or error) quoted."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if seen is not None:
            seen.append(info)
        returns = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
        if not returns:
            return ModelResponse(parts=[TextPart("Let me ask."), ToolCallPart(tool, {"task": task})])
        last = returns[-1]
        return ModelResponse(parts=[TextPart(f"[{last.outcome}] {last.model_response_str()}")])

    return FunctionModel(respond)


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def test_tool_names_are_identifiers() -> None:
    assert delegate_tool_name("worker-a") == "delegate_to_worker_a"
    assert delegate_tool_name("Research.Team 2") == "delegate_to_research_team_2"
    assert len(delegate_tool_name("x" * 100)) == 64
    with pytest.raises(ValueError, match="collide"):
        DelegationToolset([RemoteAgent("a-b", "http://127.0.0.1:1"), RemoteAgent("a_b", "http://127.0.0.1:1")])


async def test_tools_carry_card_descriptions_before_the_first_call(
    chat_agent: FakeSubAgent, a2a_agent: FakeSubAgent
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    toolset = DelegationToolset.from_urls({"worker-a": chat_agent.url, "worker-b": a2a_agent.url, "worker-c": down})
    seen: list[AgentInfo] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(info)
        return ModelResponse(parts=[TextPart("no delegation needed")])

    agent = Agent(FunctionModel(answer), toolsets=[toolset])
    result = await agent.run("hi")
    assert result.output == "no delegation needed"
    tools = {t.name: t for t in seen[0].function_tools}
    assert set(tools) == {"delegate_to_worker_a", "delegate_to_worker_b", "delegate_to_worker_c"}
    assert tools["delegate_to_worker_a"].description == "Researches facts about planets. (sub-agent 'worker-a')"
    assert tools["delegate_to_worker_b"].description == "Writes haiku. (sub-agent 'worker-b')"
    assert tools["delegate_to_worker_c"].description == (
        "Delegate a task to the sub-agent 'worker-c' and get its answer. (sub-agent 'worker-c')"
    )
    schema = tools["delegate_to_worker_a"].parameters_json_schema
    assert schema["required"] == ["task"]
    assert schema["additionalProperties"] is False
    assert chat_agent.calls == []
    assert a2a_agent.calls == []


async def test_end_to_end_delegation_forwards_context_session_and_depth(chat_agent: FakeSubAgent) -> None:
    toolset = DelegationToolset.from_urls({"worker-a": chat_agent.url})
    agent = Agent(delegating_model("delegate_to_worker_a", "How far is Mars?"), toolsets=[toolset])
    history = (
        await Agent(FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("Happy to help with planets.")]))).run(
            "I am writing a school report about Mars."
        )
    ).all_messages()
    with delegation_scope(session_id="chat-42", depth=0, max_depth=3):
        result = await agent.run("Find its distance from the Sun.", message_history=history)
    assert result.output == (
        "[success] worker-a did 'How far is Mars?' knowing [user: I am writing a school report about Mars. | "
        "assistant: Happy to help with planets. | user: Find its distance from the Sun. | assistant: Let me ask.]"
    )
    (call,) = chat_agent.calls
    assert call.headers[SESSION_HEADER.lower()] == "chat-42/worker-a"
    assert call.headers[DEPTH_HEADER.lower()] == "1"
    (part,) = tool_returns(result.all_messages())
    assert part.outcome == "success"
    assert part.metadata[METADATA_KEY]["agent"] == "worker-a"
    assert part.metadata[METADATA_KEY]["session_id"] == "chat-42/worker-a"
    assert part.metadata[METADATA_KEY]["transport"] == "chat"
    (record,) = toolset.delegations(result.all_messages())
    assert record.agent == "worker-a"
    assert record.task == "How far is Mars?"
    assert record.success is True
    assert record.result.startswith("worker-a did 'How far is Mars?'")


async def test_repeat_delegations_in_one_conversation_share_the_sub_session(a2a_agent: FakeSubAgent) -> None:
    toolset = DelegationToolset.from_urls({"worker-b": a2a_agent.url})
    agent = Agent(delegating_model("delegate_to_worker_b", "haiku"), toolsets=[toolset])
    for _ in range(2):
        with delegation_scope(session_id="conv-7", depth=0):
            await agent.run("go")
    context_ids = [c.body["params"]["message"]["contextId"] for c in a2a_agent.calls]
    assert context_ids == ["conv-7/worker-b", "conv-7/worker-b"]


async def test_depth_limit_refuses_without_calling(chat_agent: FakeSubAgent) -> None:
    toolset = DelegationToolset.from_urls({"worker-a": chat_agent.url}, max_depth=2)
    agent = Agent(delegating_model("delegate_to_worker_a", "loop back"), toolsets=[toolset])
    with delegation_scope(session_id="s", depth=2):
        result = await agent.run("go")
    assert result.output.startswith(
        '[failed] {"error":"delegation to worker-a refused: the maximum delegation depth (2) is reached'
    )
    assert chat_agent.calls == []
    with delegation_scope(session_id="s", depth=1):
        assert (await agent.run("go")).output.startswith("[success]")
    assert chat_agent.calls[0].headers[DEPTH_HEADER.lower()] == "2"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("status", "delegation to worker-a failed: HTTP 500: sub-agent exploded"),
        ("garbage", "delegation to worker-a failed: not a chat completion: '<html>definitely not json</html>'"),
        ("delay", "delegation to worker-a failed: timed out after 0.3s"),
    ],
)
async def test_failures_become_tool_errors_and_the_toolset_stays_usable(
    chat_agent: FakeSubAgent, breakage: str, expected: str
) -> None:
    toolset = DelegationToolset([RemoteAgent("worker-a", chat_agent.url, timeout=0.3)])
    agent = Agent(delegating_model("delegate_to_worker_a", "status?"), toolsets=[toolset])
    async with toolset:
        if breakage == "status":
            chat_agent.status = 500
        elif breakage == "garbage":
            chat_agent.garbage = True
        else:
            chat_agent.delay = 1.0
        failed = await agent.run("go")
        chat_agent.status, chat_agent.garbage, chat_agent.delay = 200, False, 0.0
        recovered = await agent.run("go again")
    assert failed.output == f'[failed] {{"error":"{expected}"}}'
    (part,) = tool_returns(failed.all_messages())
    assert part.outcome == "failed"
    (record,) = toolset.delegations(failed.all_messages())
    assert record.success is False
    assert record.result == expected
    assert recovered.output.startswith("[success] worker-a did 'status?'")


async def test_down_sub_agent_is_a_tool_error() -> None:
    toolset = DelegationToolset.from_urls({"worker-z": f"http://127.0.0.1:{free_port()}"})
    agent = Agent(delegating_model("delegate_to_worker_z", "anyone?"), toolsets=[toolset])
    result = await agent.run("go")
    assert "delegation to worker-z failed: cannot reach" in result.output
    assert "connection refused" in result.output
    assert result.output.startswith("[failed]")


async def test_span_metrics_and_traceparent(a2a_agent: FakeSubAgent) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    toolset = DelegationToolset.from_urls(
        {"worker-b": a2a_agent.url, "worker-z": f"http://127.0.0.1:{free_port()}"},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    with tracer_provider.get_tracer("test").start_as_current_span("request") as request_span:
        await Agent(delegating_model("delegate_to_worker_b", "poem"), toolsets=[toolset]).run("go")
        await Agent(delegating_model("delegate_to_worker_z", "poem"), toolsets=[toolset]).run("go")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    ok, failed = spans["delegate.worker-b"], spans["delegate.worker-z"]
    assert ok.attributes is not None
    assert failed.attributes is not None
    assert ok.attributes["pais.delegation.transport"] == "a2a"
    assert ok.attributes["pais.delegation.outcome"] == "success"
    assert ok.attributes["pais.delegation.depth"] == 1
    assert failed.attributes["pais.delegation.outcome"] == "unreachable"
    assert ok.context is not None
    assert ok.context.trace_id == request_span.get_span_context().trace_id
    traceparent = a2a_agent.calls[0].headers["traceparent"]
    assert traceparent.split("-")[1] == f"{ok.context.trace_id:032x}"
    assert traceparent.split("-")[2] == f"{ok.context.span_id:016x}"
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    counts = {
        (p.attributes["target"], p.attributes["success"]): p.value  # type: ignore[index]
        for p in metrics["kaos.delegations"].data.data_points
    }
    assert counts == {("worker-b", True): 1, ("worker-z", False): 1}
    assert metrics["kaos.delegation.duration"].unit == "s"
