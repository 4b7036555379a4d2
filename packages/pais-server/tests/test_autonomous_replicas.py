"""Autonomous tasks on two replicas of one agent (processes) sharing Redis: any replica reads and cancels them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pais_testing.agent_processes import AgentProcesses
from pais_testing.kaos_clients import KaosA2A, kaos_send_params
from pais_testing.mcp_server import McpTestServer
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, tool_call

pytestmark = pytest.mark.redis

GOAL = "watch the queue"


def model(call: ModelCall) -> Reply:
    """The start-up goal is reached at once; any other goal adds numbers, one tool call per iteration."""
    users = call.text_of("user")
    if users and users[0] == GOAL:
        return Reply(text="queue is empty")
    after_prompt = call.messages[max(i for i, m in enumerate(call.messages) if m["role"] == "user") + 1 :]
    if not any(m["role"] == "tool" for m in after_prompt):
        return tool_call("add", a=1, b=2)
    return Reply(text="added", delay=0.05)


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[KaosA2A, KaosA2A, ScriptedModelServer]]:
    with (
        RedisServer() as redis,
        McpTestServer() as mcp,
        ScriptedModelServer(model) as scripted,
        AgentProcesses() as processes,
    ):
        env = {
            "MODEL_API_URL": scripted.url,
            "MODEL_NAME": "scripted",
            "TOOL_CALL_MODE": "native",
            "MEMORY_TYPE": "redis",
            "MEMORY_REDIS_URL": redis.url,
            "MCP_SERVERS": "testtools",
            "MCP_SERVER_testtools_URL": mcp.base_url,
            "AUTONOMOUS_GOAL": GOAL,
            "LOG_LEVEL": "WARNING",
        }
        first, second = processes.start("autonomous", env), processes.start("autonomous", env)
        yield KaosA2A(first.http), KaosA2A(second.http), scripted


def event_types(task: dict[str, Any]) -> list[str]:
    return [event["type"] for event in task["events"]]


def test_started_on_one_replica_read_and_canceled_through_the_other(
    replicas: tuple[KaosA2A, KaosA2A, ScriptedModelServer],
) -> None:
    first, second, scripted = replicas
    unbounded = {"maxIterations": 0, "maxRuntimeSeconds": 0, "maxToolCalls": 0, "intervalSeconds": 0.05}
    started = first.send(kaos_send_params("add forever", context_id="auto-r", mode="autonomous", budgets=unbounded))
    assert started["status"]["state"] == "working"

    deadline = time.monotonic() + 30
    while event_types(running := second.get(started["id"])).count("autonomous.iteration.completed") < 2:
        assert time.monotonic() < deadline, running
        time.sleep(0.1)
    assert running["status"]["state"] == "working"
    assert running["autonomous"] is True

    assert second.cancel(started["id"])["status"]["state"] == "canceled"
    deadline = time.monotonic() + 5
    calls = -1
    while calls != len(scripted.calls) and time.monotonic() < deadline:  # the first replica stops iterating
        calls = len(scripted.calls)
        time.sleep(0.75)
    assert calls == len(scripted.calls)
    final = first.get(started["id"])
    assert final["status"]["state"] == "canceled"
    assert event_types(final)[-1] == "task.canceled"


def test_the_start_up_goal_runs_once_per_agent(replicas: tuple[KaosA2A, KaosA2A, ScriptedModelServer]) -> None:
    first, second, _ = replicas
    for replica in (first, second):
        goals = [t for t in replica.list()["tasks"] if t["history"][0]["parts"][0]["text"] == GOAL]
        assert len(goals) == 1
        assert goals[0]["autonomous"] is True
    assert [u for call in replicas[2].calls if (u := call.text_of("user")) and u[0] == GOAL]
