"""agent_capabilities(): Pydantic AI's agent, model and tool spans on the installed providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from opentelemetry import trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic_ai import Agent
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from pais_core import Settings
from pais_telemetry import Telemetry, agent_capabilities, configure


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


@pytest.fixture
def exporters() -> tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = configure(
        Settings(agent_name="weather", otel_enabled=True),
        setup_logging=False,
        span_exporter=spans,
        metric_reader=reader,
        log_exporter=InMemoryLogRecordExporter(),
    )
    return telemetry, spans, reader


def _tree(spans: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans.get_finished_spans():
        by_name.setdefault(span.name, []).append(span)
    return by_name


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def _check_run_tree(by_name: dict[str, list[ReadableSpan]], parent: ReadableSpan) -> None:
    [run] = by_name["invoke_agent weather"]
    assert _parent_id(run) == parent.context.span_id
    assert run.context.trace_id == parent.context.trace_id
    model_spans = [span for name, group in by_name.items() if name.startswith("chat ") for span in group]
    assert len(model_spans) == 2
    [tool] = by_name["execute_tool lookup"]
    for child in [*model_spans, tool]:
        assert _parent_id(child) == run.context.span_id
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "lookup"
    assert tool.attributes["gen_ai.tool.call.result"] == "Paris: sunny"


async def test_run_gives_agent_model_and_tool_spans_under_the_current_span(
    exporters: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, spans, reader = exporters
    agent = weather_agent()

    with trace.get_tracer("test").start_as_current_span("POST /v1/chat/completions"):
        result = await agent.run("weather in Paris?", capabilities=agent_capabilities(agent, include_content=True))
    assert result.output == "sunny"
    telemetry.force_flush()

    by_name = _tree(spans)
    [server] = by_name["POST /v1/chat/completions"]
    _check_run_tree(by_name, server)

    data = reader.get_metrics_data()
    assert data is not None
    token_types = {
        dict(point.attributes or {})["gen_ai.token.type"]
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == "gen_ai.client.token.usage"
        for point in metric.data.data_points
    }
    assert token_types == {"input", "output"}


async def test_streamed_run_gives_the_same_tree(
    exporters: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, spans, _ = exporters
    agent = weather_agent()

    with trace.get_tracer("test").start_as_current_span("POST /v1/chat/completions"):
        capabilities = agent_capabilities(agent, include_content=True)
        async with agent.run_stream_events("weather in Paris?", capabilities=capabilities) as events:
            texts = [event async for event in events]
    assert texts
    telemetry.force_flush()

    by_name = _tree(spans)
    [server] = by_name["POST /v1/chat/completions"]
    _check_run_tree(by_name, server)


@pytest.mark.parametrize(("variable", "captured"), [(None, False), ("true", True), ("false", False)])
async def test_message_content_is_opt_in(
    exporters: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
    monkeypatch: pytest.MonkeyPatch,
    variable: str | None,
    captured: bool,
) -> None:
    if variable is not None:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", variable)
    telemetry, spans, _ = exporters
    agent = weather_agent()

    await agent.run("weather in Paris?", capabilities=agent_capabilities(agent))
    telemetry.force_flush()

    [tool] = _tree(spans)["execute_tool lookup"]
    assert tool.attributes is not None
    assert ("gen_ai.tool.call.result" in tool.attributes) is captured
    assert tool.attributes["gen_ai.tool.name"] == "lookup"


def test_nothing_to_add_without_a_tracer_provider() -> None:
    assert agent_capabilities(weather_agent()) == []


def test_an_agent_that_instruments_itself_keeps_its_own(
    exporters: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    self_instrumented = weather_agent()
    self_instrumented.instrument = True
    assert agent_capabilities(self_instrumented) == []
    assert agent_capabilities(weather_agent(capabilities=[Instrumentation()])) == []
    [capability] = agent_capabilities(weather_agent())
    assert isinstance(capability, Instrumentation)
    assert agent_capabilities(None) == [capability]  # built once per provider pair
