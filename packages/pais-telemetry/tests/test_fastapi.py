"""The HTTP side as the server wires it: FastAPI's native telemetry on our providers, `is_untraced` excluded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("pydantic_ai")

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pais_testing.otel_in_memory import InMemory
from pais_testing.threaded_server import ThreadedServer
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from pais_telemetry import agent_capabilities, is_untraced, untraced_requests

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


def _answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart("hello")])


async def _stream_answer(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    yield "hel"
    yield "lo"


def _app() -> FastAPI:
    agent = Agent(FunctionModel(_answer, stream_function=_stream_answer), name="greeter")
    app = FastAPI(telemetry={"exclude": is_untraced, "operation_spans": False})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/agent-card.json")
    async def card() -> dict[str, str]:
        return {"name": "greeter"}

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> Any:
        if not body.get("stream"):
            result = await agent.run("hi", capabilities=agent_capabilities(agent))
            return {"content": result.output}

        async def chunks() -> AsyncIterator[str]:
            async with agent.run_stream_events("hi", capabilities=agent_capabilities(agent)) as events:
                async for event in events:
                    yield f"data: {type(event).__name__}\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


@pytest.fixture
def served(in_memory: InMemory) -> Iterator[str]:
    with ThreadedServer(_app()) as server:
        yield server.base_url


@pytest.mark.parametrize("stream", [False, True])
def test_request_continues_the_callers_trace_down_to_the_agent_run(
    in_memory: InMemory, served: str, stream: bool
) -> None:
    traceparent = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
    response = httpx.post(
        f"{served}/v1/chat/completions", json={"stream": stream}, headers={"traceparent": traceparent}
    )
    assert response.status_code == 200

    by_name = in_memory.spans_by_name()
    [server] = by_name["POST /v1/chat/completions"]
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == CALLER_SPAN_ID
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    [run] = by_name["invoke_agent greeter"]
    assert run.parent is not None
    assert run.parent.span_id == server.context.span_id
    assert run.context.trace_id == server.context.trace_id


def test_probes_and_agent_card_are_not_traced_or_measured(in_memory: InMemory, served: str) -> None:
    assert httpx.get(f"{served}/health").status_code == 200
    assert httpx.get(f"{served}/.well-known/agent-card.json").status_code == 200
    assert httpx.post(f"{served}/v1/chat/completions", json={}).status_code == 200

    assert sorted(in_memory.spans_by_name()) == [
        "POST /v1/chat/completions",
        "chat function:_answer:_stream_answer",
        "invoke_agent greeter",
    ]
    routes = [attributes.get("http.route") for attributes, _ in in_memory.metric_points("http.server.request.duration")]
    assert routes == ["/v1/chat/completions"]


def test_excluded_urls_are_not_traced_or_measured(in_memory: InMemory) -> None:
    app = FastAPI(telemetry={"exclude": untraced_requests("^/memory/, models$"), "operation_spans": False})

    @app.get("/memory/sessions")
    @app.get("/v1/models")
    @app.get("/v1/models/list")
    @app.get("/health")
    async def listing() -> dict[str, str]:
        return {}

    with ThreadedServer(app) as server:
        for path in ("/memory/sessions", "/v1/models", "/v1/models/list", "/health"):
            assert httpx.get(f"{server.base_url}{path}").status_code == 200

    assert sorted(in_memory.spans_by_name()) == ["GET /v1/models/list"]
    assert untraced_requests("") is is_untraced
