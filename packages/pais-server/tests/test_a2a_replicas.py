"""Two replicas of one agent (processes) sharing Redis memory: any replica answers get and cancel for a task."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pais_testing.agent_processes import AgentProcess, AgentProcesses, a2a_user_message
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import scripted_redis_env
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer

pytestmark = pytest.mark.redis

SLOW_SECONDS = 6.0


RACE_SECONDS = 0.2


def model(call: ModelCall) -> Reply:
    if "slow" in call.last_user_text:
        return Reply(text="finished after all", delay=SLOW_SECONDS)
    if "race" in call.last_user_text:
        return Reply(text="finished in time", delay=RACE_SECONDS)
    return Reply(text=f"done: {call.last_user_text}")


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[AgentProcess, AgentProcess, ScriptedModelServer]]:
    with RedisServer() as redis, ScriptedModelServer(model) as scripted, AgentProcesses() as processes:
        env = scripted_redis_env(scripted.url, redis.url)
        yield processes.start("replicated", env), processes.start("replicated", env), scripted


def result(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in answer, answer
    return answer["result"]


def test_a_task_sent_to_one_replica_is_read_through_the_other(
    replicas: tuple[AgentProcess, AgentProcess, ScriptedModelServer],
) -> None:
    first, second, _ = replicas
    task = result(first.rpc("message/send", {"message": a2a_user_message("sum it up", "ctx-replicated")}))
    assert task["status"]["state"] == "completed"

    fetched = result(second.rpc("tasks/get", {"id": task["id"]}))
    assert fetched == task
    v1 = result(second.rpc("GetTask", {"id": task["id"]}))
    assert v1["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [t["id"] for t in result(second.rpc("ListTasks", {"contextId": "ctx-replicated"}))["tasks"]] == [task["id"]]
    assert [e["event_type"] for e in second.events("ctx-replicated")] == ["user_message", "agent_response"]
    assert second.rpc("tasks/cancel", {"id": task["id"]})["error"]["code"] == -32002


def test_cancel_through_the_other_replica_stops_the_run(
    replicas: tuple[AgentProcess, AgentProcess, ScriptedModelServer],
) -> None:
    first, second, scripted = replicas
    calls_before = len(scripted.calls)
    params = {"message": a2a_user_message("slow work", "ctx-cancel"), "configuration": {"blocking": False}}
    task = result(first.rpc("message/send", params))
    deadline = time.monotonic() + 10
    while len(scripted.calls) == calls_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(scripted.calls) == calls_before + 1, "the run never reached the model"
    assert result(second.rpc("tasks/get", {"id": task["id"]}))["status"]["state"] == "working"

    canceled_at = time.monotonic()
    canceled = result(second.rpc("tasks/cancel", {"id": task["id"]}))
    assert canceled["status"]["state"] == "canceled"

    # the replica running the task notices within its poll interval and stops the run: the
    # cancellation is in memory long before the model's answer would have been
    events: list[dict[str, Any]] = []
    while time.monotonic() - canceled_at < SLOW_SECONDS / 2:
        response = second.http.get("/memory/events", params={"session_id": "ctx-cancel"})
        if response.status_code == 200 and (events := response.json()["events"]):
            break
        time.sleep(0.05)
    assert [e["event_type"] for e in events] == ["user_message", "error"]
    assert events[1]["metadata"]["code"] == "cancelled"

    time.sleep(max(0.0, canceled_at + SLOW_SECONDS + 0.5 - time.monotonic()))  # past the model's answer
    for replica in (first, second):
        assert result(replica.rpc("tasks/get", {"id": task["id"]}))["status"]["state"] == "canceled"
        assert [e["event_type"] for e in replica.events("ctx-cancel")] == ["user_message", "error"]
    assert len(scripted.calls) == calls_before + 1
    assert first.rpc("tasks/cancel", {"id": task["id"]})["error"]["code"] == -32002


def test_a_cancel_racing_the_end_of_the_run_has_one_outcome_everywhere(
    replicas: tuple[AgentProcess, AgentProcess, ScriptedModelServer],
) -> None:
    first, second, _ = replicas
    rng = random.Random(7)
    outcomes: list[tuple[str, str, str]] = []
    for i in range(20):
        params = {"message": a2a_user_message("race", f"ctx-race-{i}"), "configuration": {"blocking": False}}
        task = result(first.rpc("message/send", params))
        time.sleep(RACE_SECONDS * rng.uniform(0.5, 1.5))  # around the moment the run ends
        answer = second.rpc("tasks/cancel", {"id": task["id"]})
        outcomes.append((task["id"], "canceled" if "result" in answer else "refused", f"ctx-race-{i}"))

    time.sleep(1.0)  # every run has settled
    for task_id, cancel, context_id in outcomes:
        states = {result(replica.rpc("tasks/get", {"id": task_id}))["status"]["state"] for replica in (first, second)}
        # an accepted cancel is the task's end; a refused one means the run had ended, and that end stands
        assert states == ({"canceled"} if cancel == "canceled" else {"completed"}), (task_id, cancel, states)
        kinds = [e["event_type"] for e in second.events(context_id)]
        assert kinds in (["user_message", "agent_response"], ["user_message", "error"]), kinds
    assert {cancel for _, cancel, _ in outcomes} == {"canceled", "refused"}  # the race was really run both ways
