"""`GET /tools`: every tool the agent offers its model, as `kaos agent tools` reads it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pais_testing.mcp_server import McpTestServer
from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel

from pais_core import McpServerSpec, SubAgentSpec

from .conftest import ServeFactory


@pytest.fixture
def mcp() -> Iterator[McpTestServer]:
    with McpTestServer() as server:
        yield server


def test_own_mcp_and_delegation_tools_are_listed_behind_the_key(serve_pais: ServeFactory, mcp: McpTestServer) -> None:
    agent = Agent(TestModel(), name="tooled")

    @agent.tool_plain
    def forecast(city: str, days: int = 1) -> str:
        """The weather forecast for a city."""
        return f"sunny in {city} for {days} days"

    worker = serve_pais(agent_name="worker-a", agent_description="Sums numbers")
    served = serve_pais(
        agent,
        agent_api_key="secret",
        sub_agents=(SubAgentSpec(name="worker-a", url=worker.url),),
        mcp_servers=(McpServerSpec(name="testtools", url=mcp.base_url),),
    )
    assert served.http.get("/tools").status_code == 401

    auth = {"Authorization": "Bearer secret"}
    deadline = time.monotonic() + 20
    while True:  # the MCP session connects in the background
        body = served.http.get("/tools", headers=auth).json()
        names = [tool["name"] for tool in body["tools"]]
        if "add" in names or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert body["agent"] == "test-agent"
    assert names[0] == "forecast"
    assert {"delegate_to_worker_a", "add", "echo"} <= set(names)
    tools = {tool["name"]: tool for tool in body["tools"]}
    assert set(tools["forecast"]) == {"name", "description", "parameters_json_schema"}
    assert tools["forecast"]["description"] == "The weather forecast for a city."
    schema = tools["forecast"]["parameters_json_schema"]
    assert schema["required"] == ["city"]
    assert set(schema["properties"]) == {"city", "days"}
    assert "Sums numbers" in tools["delegate_to_worker_a"]["description"]
    assert tools["delegate_to_worker_a"]["parameters_json_schema"]["required"] == ["task"]
    assert set(tools["add"]["parameters_json_schema"]["properties"]) == {"a", "b"}


def test_an_agent_without_tools_lists_none(serve_pais: ServeFactory) -> None:
    served = serve_pais()
    assert served.http.get("/tools").json() == {"agent": "test-agent", "tools": []}
