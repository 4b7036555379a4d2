"""TOOL_CALL_MODE: forced modes, and the `auto` probe against real OpenAI-compatible HTTP servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Literal

import pytest
from pais_testing.ports import free_port
from pais_testing.refusing_model import RefusingModelServer
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted, tool_call
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.providers.openai import OpenAIProvider

from pais_core import Settings
from pais_server.tools._mode import PROBE_TOOL, ToolModeDecision, apply_tool_mode, resolve_tool_mode
from pais_server.tools._string_mode import StringModeModel

ChatFactory = Callable[[str, str], Awaitable[OpenAIChatModel]]


def _settings(mode: Literal["auto", "native", "string"] = "auto") -> Settings:
    return Settings(agent_name="mode-test", tool_call_mode=mode)


@pytest.fixture
async def chat_model() -> AsyncIterator[ChatFactory]:
    async with AsyncExitStack() as stack:

        async def make(url: str, name: str) -> OpenAIChatModel:
            model = OpenAIChatModel(name, provider=OpenAIProvider(base_url=url, api_key="test"))
            return await stack.enter_async_context(model)

        yield make


@pytest.mark.parametrize("mode", ["native", "string"])
async def test_forced_modes_never_probe(mode: Literal["native", "string"], chat_model: ChatFactory) -> None:
    with ScriptedModelServer() as server:
        assert isinstance(server, ScriptedModelServer)
        decision = await resolve_tool_mode(_settings(mode), await chat_model(server.url, f"forced-{mode}"))
        assert decision == ToolModeDecision(mode, f"TOOL_CALL_MODE={mode}", "configured")
        assert server.calls == []


async def test_auto_is_native_when_the_model_calls_the_probe_tool(chat_model: ChatFactory) -> None:
    with ScriptedModelServer(scripted(tool_call(PROBE_TOOL, status="ready"))) as server:
        assert isinstance(server, ScriptedModelServer)
        model = await chat_model(server.url, "calls-tools")

        decision = await resolve_tool_mode(_settings(), model)

        assert (decision.mode, decision.source) == ("native", "probe")
        [probe] = server.calls
        assert [tool["function"]["name"] for tool in probe.body["tools"]] == [PROBE_TOOL]
        assert probe.body.get("tool_choice", "auto") == "auto"
        assert await resolve_tool_mode(_settings(), model) == decision
        assert len(server.calls) == 1, "the decision is cached per process"


async def test_auto_is_string_when_the_model_answers_in_text(chat_model: ChatFactory) -> None:
    with ScriptedModelServer(scripted("I am ready!")) as server:
        assert isinstance(server, ScriptedModelServer)

        decision = await resolve_tool_mode(_settings(), await chat_model(server.url, "talks"))

        assert (decision.mode, decision.source) == ("string", "probe")
        assert "text" in decision.reason
        assert decision.details() == {"mode": "string", "reason": decision.reason, "source": "probe"}


async def test_auto_is_string_when_the_api_rejects_tools(chat_model: ChatFactory) -> None:
    with RefusingModelServer(lambda body: "tools are not supported" if "tools" in body else None) as api:
        assert isinstance(api, RefusingModelServer)

        decision = await resolve_tool_mode(_settings(), await chat_model(api.url, "rejects"))

        assert (decision.mode, decision.source) == ("string", "probe")
        assert "HTTP 400" in decision.reason
        assert ["tools" in body for body in api.bodies] == [True, False]


async def test_auto_is_undecided_native_when_the_api_is_down(chat_model: ChatFactory) -> None:
    model = await chat_model(f"http://127.0.0.1:{free_port()}/v1", "down")

    decision = await resolve_tool_mode(_settings(), model, timeout=5)

    assert (decision.mode, decision.source) == ("native", "default")
    assert "could not probe" in decision.reason


async def test_auto_does_not_probe_a_model_without_an_http_api() -> None:
    decision = await resolve_tool_mode(_settings(), TestModel())

    assert (decision.mode, decision.source) == ("native", "default")


async def test_auto_probes_again_after_an_undecided_probe(chat_model: ChatFactory) -> None:
    with ScriptedModelServer(lambda call: Reply(status=503)) as server:
        assert isinstance(server, ScriptedModelServer)
        model = await chat_model(server.url, "flaky")
        assert (await resolve_tool_mode(_settings(), model)).source == "default"
        server.handler = scripted("plain text")
        assert (await resolve_tool_mode(_settings(), model)).mode == "string"


def test_apply_tool_mode_wraps_only_for_string_mode() -> None:
    model: Model = TestModel()
    assert apply_tool_mode(model, ToolModeDecision("native", "r", "probe")) is model
    wrapped = apply_tool_mode(model, ToolModeDecision("string", "r", "probe"), constrained="off")
    assert isinstance(wrapped, StringModeModel)
    assert wrapped.wrapped is model
    assert wrapped.response_format == "off"
