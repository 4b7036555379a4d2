"""agent_capabilities(): Pydantic AI's agent, model and tool spans on the installed providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pais_testing.otel_in_memory import InMemory
from pydantic_ai import Agent
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from pais_telemetry import agent_capabilities, record_token_usage


def _reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(parts=[ToolCallPart("lookup", {"city": "Paris"})])
    return ModelResponse(parts=[TextPart("sunny")])


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
    if len(messages) == 1:
        yield {0: DeltaToolCall(name="lookup", json_args='{"city": "Paris"}')}
    else:
        yield "sun"
        yield "ny"


def weather_agent(**options: Any) -> Agent[None, str]:
    agent = Agent(FunctionModel(_reply, stream_function=_stream), name="weather", **options)

    @agent.tool_plain
    def lookup(city: str) -> str:
        return f"{city}: sunny"

    return agent


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


async def _run(agent: Agent[None, str], *, stream: bool, include_content: bool | None = True) -> None:
    capabilities = agent_capabilities(agent, include_content=include_content)
    if stream:
        async with agent.run_stream_events("weather in Paris?", capabilities=capabilities) as events:
            assert [event async for event in events]
    else:
        assert (await agent.run("weather in Paris?", capabilities=capabilities)).output == "sunny"


@pytest.mark.parametrize("stream", [False, True])
async def test_agent_model_and_tool_spans_nest_under_the_current_span(in_memory: InMemory, stream: bool) -> None:
    with trace.get_tracer("test").start_as_current_span("POST /v1/chat/completions"):
        await _run(weather_agent(), stream=stream)

    by_name = in_memory.spans_by_name()
    [server] = by_name["POST /v1/chat/completions"]
    [run] = by_name["invoke_agent weather"]
    assert _parent_id(run) == server.context.span_id
    assert run.context.trace_id == server.context.trace_id
    model_spans = [span for name, group in by_name.items() if name.startswith("chat ") for span in group]
    assert len(model_spans) == 2
    [tool] = by_name["execute_tool lookup"]
    for child in [*model_spans, tool]:
        assert _parent_id(child) == run.context.span_id
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "lookup"
    assert tool.attributes["gen_ai.tool.call.result"] == "Paris: sunny"
    token_types = {
        attributes["gen_ai.token.type"] for attributes, _ in in_memory.metric_points("gen_ai.client.token.usage")
    }
    assert token_types == {"input", "output"}


@pytest.mark.parametrize(("variable", "captured"), [(None, False), ("true", True), ("false", False)])
async def test_message_content_is_opt_in(
    in_memory: InMemory, monkeypatch: pytest.MonkeyPatch, variable: str | None, captured: bool
) -> None:
    if variable is not None:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", variable)
    await _run(weather_agent(), stream=False, include_content=None)

    [tool] = in_memory.spans_by_name()["execute_tool lookup"]
    assert tool.attributes is not None
    assert ("gen_ai.tool.call.result" in tool.attributes) is captured
    assert tool.attributes["gen_ai.tool.name"] == "lookup"


def test_nothing_to_add_without_a_tracer_provider() -> None:
    assert agent_capabilities(weather_agent()) == []


def test_an_agent_that_instruments_itself_keeps_its_own(in_memory: InMemory) -> None:
    self_instrumented = weather_agent()
    self_instrumented.instrument = True
    assert agent_capabilities(self_instrumented) == []
    assert agent_capabilities(weather_agent(capabilities=[Instrumentation()])) == []
    [capability] = agent_capabilities(weather_agent())
    assert isinstance(capability, Instrumentation)
    assert agent_capabilities(None) == [capability]  # built once per provider pair


def _token_points(in_memory: InMemory) -> list[tuple[str, int]]:
    return sorted(
        (attributes["gen_ai.token.type"], point.sum)
        for attributes, point in in_memory.metric_points("gen_ai.client.token.usage")
    )


async def test_an_unsampled_trace_runs_uninstrumented_and_still_counts_tokens(in_memory: InMemory) -> None:
    agent = weather_agent()
    caller = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=True, trace_flags=TraceFlags(0)
    )
    with trace.use_span(NonRecordingSpan(caller)):
        assert agent_capabilities(agent) == []  # the sampler dropped this trace: no instrumentation cost
        result = await agent.run("weather in Paris?")
        record_token_usage(agent, result.new_messages())

    assert in_memory.spans_by_name() == {}
    usage = result.usage
    assert _token_points(in_memory) == [("input", usage.input_tokens), ("output", usage.output_tokens)]
    [(attributes, _), _] = in_memory.metric_points("gen_ai.client.token.usage")
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.response.model"] == "function:_reply:_stream"


async def test_token_usage_is_not_recorded_twice_for_an_instrumented_run(in_memory: InMemory) -> None:
    agent = weather_agent()
    with trace.get_tracer("test").start_as_current_span("POST /v1/chat/completions"):
        result = await agent.run("weather in Paris?", capabilities=agent_capabilities(agent))
        record_token_usage(agent, result.new_messages())  # nothing to add: the instrumentation recorded them

    usage = result.usage
    assert _token_points(in_memory) == [("input", usage.input_tokens), ("output", usage.output_tokens)]
