"""MCP servers through the PAIS HTTP API: chat completions call their tools, the card lists them as skills."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pais_testing.mcp_server import McpTestServer
from pais_testing.ports import free_port
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, tool_call

from pais_core import McpServerSpec

from .conftest import Served, ServeFactory


@pytest.fixture
def mcp_server() -> Iterator[McpTestServer]:
    with McpTestServer() as server:
        yield server


def _add_then_report(call: ModelCall) -> Reply:
    """Calls the MCP `add` tool natively, then answers with what the tool returned."""
    results = [m["content"] for m in call.messages if m.get("role") == "tool"]
    return Reply(text=f"The sum is {results[-1]}.") if results else tool_call("add", a=2, b=40)


def _skills(served: Served) -> list[str]:
    return sorted(skill["id"] for skill in served.http.get("/.well-known/agent-card.json").json()["skills"])


def test_chat_calls_mcp_tools_and_the_card_lists_them(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, mcp_server: McpTestServer
) -> None:
    scripted_model.handler = _add_then_report
    served = serve_pais(
        model_api_url=scripted_model.url,
        model_name="scripted",
        mcp_servers=(McpServerSpec(name="python-runner", url=mcp_server.base_url),),
    )

    completion = served.openai.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "add 2 and 40"}]
    )

    assert completion.choices[0].message.content == "The sum is 42."
    offered = [tool["function"]["name"] for tool in scripted_model.calls[0].body["tools"]]
    assert sorted(offered) == ["add", "echo", "fail"]
    assert _skills(served) == ["add", "echo", "fail"]
    assert served.http.get("/ready").status_code == 200


def test_mcp_server_down_at_startup_does_not_stop_the_agent(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    late = McpTestServer(port=free_port())
    scripted_model.handler = lambda call: Reply(text="no tools yet")
    served = serve_pais(
        model_api_url=scripted_model.url,
        model_name="scripted",
        mcp_servers=(McpServerSpec(name="late", url=late.base_url),),
        mcp_timeout_seconds=2.0,
    )

    assert served.http.get("/ready").status_code == 200
    assert _skills(served) == ["chat"]  # the default skill while no tool is known
    reply = served.openai.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "no tools yet"
    assert "tools" not in scripted_model.calls[-1].body

    with late:
        deadline = time.monotonic() + 20
        while _skills(served) != ["add", "echo", "fail"]:
            assert time.monotonic() < deadline, "the MCP server's tools did not appear"
            time.sleep(0.2)
        scripted_model.handler = _add_then_report
        reply = served.openai.chat.completions.create(model="x", messages=[{"role": "user", "content": "add"}])
        assert reply.choices[0].message.content == "The sum is 42."


def test_an_mcp_server_that_dies_while_idle_is_reported_at_the_next_readiness_check(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    mcp_server = McpTestServer(port=free_port()).start()
    try:
        served = serve_pais(
            model_api_url=scripted_model.url,
            model_name="scripted",
            mcp_servers=(McpServerSpec(name="tools", url=mcp_server.base_url),),
        )
        [before] = served.http.get("/ready").json()["details"]["mcp_servers"]
        assert before["state"] == "connected", before
    finally:
        mcp_server.stop()

    time.sleep(1.0)  # readiness pings each server at most once a second
    ready = served.http.get("/ready")

    assert ready.status_code == 200  # a degraded MCP server is reported, not fatal
    [after] = ready.json()["details"]["mcp_servers"]
    assert after["state"] == "degraded"
