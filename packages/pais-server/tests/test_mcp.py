"""MCP servers through a Pydantic AI agent, against a real FastMCP server over Streamable HTTP on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pais_testing.mcp_server import McpTestServer
from pais_testing.ports import free_port
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from pais_core import McpServerSpec, Settings
from pais_server.tools._mcp import McpManager, mcp_endpoint


def _settings(*servers: tuple[str, str], headers: dict[str, str] | None = None, timeout: float = 5.0) -> Settings:
    specs = tuple(McpServerSpec(name=name, url=url, headers=headers or {}) for name, url in servers)
    return Settings(agent_name="mcp-test", mcp_servers=specs, mcp_timeout_seconds=timeout)


@pytest.fixture
def server() -> Iterator[McpTestServer]:
    with McpTestServer() as running:
        yield running


@pytest.fixture
async def manager(server: McpTestServer) -> AsyncIterator[McpManager]:
    mcp = McpManager(_settings(("tools", server.base_url), headers={"X-Api-Key": "secret-1"}))
    await mcp.start()
    yield mcp
    await mcp.close()


Step = Callable[[list[ModelMessage], AgentInfo], ModelResponse]


def _returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def _scripted(*calls: tuple[str, dict[str, Any]], seen_tools: list[list[str]] | None = None) -> Step:
    """A model that makes `calls` one per step, then answers with every tool result it got."""

    def step(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if seen_tools is not None:
            seen_tools.append(sorted(tool.name for tool in info.function_tools))
        done = len(_returns(messages))
        if done < len(calls):
            name, args = calls[done]
            return ModelResponse(parts=[ToolCallPart(name, args)])
        results = [f"{r.tool_name}:{r.outcome}:{r.model_response_str(wrap_if_error=False)}" for r in _returns(messages)]
        return ModelResponse(parts=[TextPart(" | ".join(results) or "no tool results")])

    return step


def test_mcp_endpoint_appends_mcp_only_without_a_path() -> None:
    assert mcp_endpoint("http://python-runner-svc:8000") == "http://python-runner-svc:8000/mcp"
    assert mcp_endpoint("http://host:8000/") == "http://host:8000/mcp"
    assert mcp_endpoint("https://host/custom/mcp") == "https://host/custom/mcp"
    assert mcp_endpoint("http://host:9000/sse") == "http://host:9000/sse"


async def test_agent_lists_and_calls_mcp_tools(server: McpTestServer, manager: McpManager) -> None:
    [status] = manager.status()
    assert (status.state, status.url, sorted(status.tools)) == (
        "connected",
        f"{server.base_url}/mcp",
        ["add", "echo", "fail"],
    )
    seen: list[list[str]] = []
    agent = Agent(FunctionModel(_scripted(("add", {"a": 2, "b": 40}), seen_tools=seen)), toolsets=manager.toolsets)

    result = await agent.run("add 2 and 40")

    assert result.output == "add:success:42"
    assert seen[0] == ["add", "echo", "fail"]
    sent = [r for r in server.requests() if r["path"] == "/mcp"]
    assert sent
    assert all(r["headers"].get("x-api-key") == "secret-1" for r in sent)
    assert sorted(skill.id for skill in manager.skills()) == ["add", "echo", "fail"]
    assert next(s for s in manager.skills() if s.id == "add").description == "Add two integers and return the sum."


async def test_tool_error_reaches_the_model(manager: McpManager) -> None:
    agent = Agent(FunctionModel(_scripted(("fail", {"message": "boom"}))), toolsets=manager.toolsets)

    result = await agent.run("try the failing tool")

    assert result.output.startswith("fail:failed:")
    assert "fail tool refused: boom" in result.output
    assert manager.status()[0].state == "connected"


async def test_invalid_arguments_come_back_as_the_servers_validation_error(manager: McpManager) -> None:
    agent = Agent(
        FunctionModel(_scripted(("add", {"a": "not a number", "b": 1}), ("add", {"a": 1, "b": 1}))),
        toolsets=manager.toolsets,
    )

    result = await agent.run("add")

    first, second = result.output.split(" | ")
    assert first.startswith("add:failed:")
    assert "valid integer" in first
    assert second == "add:success:2"


async def test_server_going_away_mid_run_gives_a_clear_tool_error(server: McpTestServer, manager: McpManager) -> None:
    def step(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        done = len(_returns(messages))
        if done == 0:
            return ModelResponse(parts=[ToolCallPart("echo", {"text": "first"})])
        if done == 1:
            server.stop()
            return ModelResponse(parts=[ToolCallPart("echo", {"text": "second"})])
        return ModelResponse(parts=[TextPart(_returns(messages)[-1].model_response_str(wrap_if_error=False))])

    agent = Agent(FunctionModel(step), toolsets=manager.toolsets)
    started = time.monotonic()

    result = await agent.run("echo twice")

    assert time.monotonic() - started < 10
    assert "MCP server 'tools' could not run tool 'echo'" in result.output
    returns = _returns(result.all_messages())
    assert [r.outcome for r in returns] == ["success", "failed"]
    assert manager.status()[0].state == "degraded"


async def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_server_down_at_startup_is_degraded_then_its_tools_appear() -> None:
    server = McpTestServer(port=free_port())
    manager = McpManager(_settings(("late", server.base_url), timeout=2.0), retry_initial=0.2, retry_max=0.5)
    started = time.monotonic()
    await manager.start()
    try:
        assert time.monotonic() - started < 5
        [status] = manager.status()
        assert status.state == "degraded"
        assert status.error
        assert manager.skills() == []
        seen: list[list[str]] = []
        agent = Agent(FunctionModel(_scripted(seen_tools=seen)), toolsets=manager.toolsets)
        assert (await agent.run("hi")).output == "no tool results"
        assert seen == [[]]

        with server:
            await _wait_for(lambda: manager.status()[0].state == "connected")
            assert sorted(skill.name for skill in manager.skills()) == ["add", "echo", "fail"]
            result = await Agent(FunctionModel(_scripted(("add", {"a": 1, "b": 2}))), toolsets=manager.toolsets).run(
                "add"
            )
            assert result.output == "add:success:3"
    finally:
        await manager.close()


async def test_reconnects_after_the_server_restarts(server: McpTestServer) -> None:
    manager = McpManager(_settings(("tools", server.base_url), timeout=2.0), retry_initial=0.2, retry_max=0.5)
    await manager.start()
    try:
        server.stop()
        agent = Agent(FunctionModel(_scripted(("echo", {"text": "x"}))), toolsets=manager.toolsets)
        assert "could not run tool 'echo'" in (await agent.run("echo")).output
        assert manager.status()[0].state == "degraded"
        server.start()
        await _wait_for(lambda: manager.status()[0].state == "connected")
        assert (await agent.run("echo")).output == "echo:success:x"
    finally:
        await manager.close()


async def test_close_ends_the_sessions_and_stops_reconnecting(server: McpTestServer) -> None:
    manager = McpManager(_settings(("tools", server.base_url)), retry_initial=0.1, retry_max=0.1)
    await manager.start()
    [owner] = manager._servers
    assert owner.toolset.is_running

    await manager.close()

    assert not owner.toolset.is_running
    assert [s.state for s in manager.status()] == ["closed"]
    assert manager.skills() == []
    count = len(server.requests())
    await asyncio.sleep(0.5)
    assert len(server.requests()) == count


async def test_colliding_tool_names_are_prefixed_with_the_server_name() -> None:
    with McpTestServer(name="alpha") as alpha, McpTestServer(name="beta") as beta:
        manager = McpManager(_settings(("alpha", alpha.base_url), ("python-runner", beta.base_url)))
        await manager.start()
        try:
            seen: list[list[str]] = []
            agent = Agent(
                FunctionModel(_scripted(("python_runner_echo", {"text": "hi"}), seen_tools=seen)),
                toolsets=manager.toolsets,
            )
            result = await agent.run("echo on beta")
            assert result.output == "python_runner_echo:success:hi"
            assert seen[0] == sorted(
                f"{prefix}_{tool}" for prefix in ("alpha", "python_runner") for tool in ("add", "echo", "fail")
            )
            assert {s.id for s in manager.skills()} == set(seen[0])
            beta_posts = [r for r in beta.requests() if r["method"] == "POST"]
            alpha_posts = [r for r in alpha.requests() if r["method"] == "POST"]
            assert len(beta_posts) > len(alpha_posts)
        finally:
            await manager.close()


async def test_no_servers_means_no_toolsets() -> None:
    manager = McpManager(Settings(agent_name="plain"))
    await manager.start()
    assert manager.toolsets == []
    assert manager.status() == []
    await manager.close()
