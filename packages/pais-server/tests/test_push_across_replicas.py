"""Push notifications across two replicas (processes) sharing Redis: each state change reaches the webhook
exactly once, also when the replica running the task is killed and the other ends it (replaying its log),
and a delivery whose replica is killed while it waits for the webhook is made by the other replica."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pais_testing.agent_processes import AgentProcess, AgentProcesses, a2a_user_message
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import scripted_redis_env
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer
from pais_testing.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.redis

LEASE_SECONDS = 1.5


def model(call: ModelCall) -> Reply:
    if "stuck" in call.last_user_text:
        return Reply(text="never sent", delay=8.0)  # longer than the lease takes to run out
    return Reply(text="one two three", chunk_delay=0.2)


@pytest.fixture
def replicas() -> Iterator[tuple[AgentProcess, AgentProcess]]:
    with RedisServer() as redis, ScriptedModelServer(model) as scripted, AgentProcesses() as processes:
        env = scripted_redis_env(
            scripted.url,
            redis.url,
            A2A_TASK_LEASE_SECONDS=str(LEASE_SECONDS),
            A2A_PUSH_ALLOWED_HOSTS="127.0.0.1",
        )
        yield processes.start("push", env), processes.start("push", env)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def result(answer: dict[str, Any]) -> Any:
    assert "error" not in answer, answer
    return answer["result"]


def test_each_state_change_arrives_once_across_replicas_also_when_one_is_killed(
    replicas: tuple[AgentProcess, AgentProcess], receiver: WebhookReceiver
) -> None:
    first, second = replicas
    # A config given in the send on one replica, another created on the other replica for the same task.
    push = {"url": f"{receiver.base_url}/sent", "token": "t1"}
    params = {
        "message": a2a_user_message("hello"),
        "configuration": {"blocking": False, "pushNotificationConfig": push},
    }
    task = result(first.rpc("message/send", params))
    later = {"taskId": task["id"], "pushNotificationConfig": {"id": "later", "url": f"{receiver.base_url}/later"}}
    result(second.rpc("tasks/pushNotificationConfig/set", later))
    sent = receiver.wait_for("/sent", "TASK_STATE_COMPLETED")
    assert [n.state for n in sent] == ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    assert all(n.headers["x-a2a-notification-token"] == "t1" for n in sent)
    assert [n.state for n in receiver.wait_for("/later", "TASK_STATE_COMPLETED")][-1] == "TASK_STATE_COMPLETED"
    assert len({n.state for n in receiver.delivered("/later")}) == len(receiver.delivered("/later"))

    # The replica running a task dies: the other ends it failed, replays the log, and sends only what is new.
    push = {"url": f"{receiver.base_url}/killed", "token": "t2"}
    params = {
        "message": a2a_user_message("stuck forever"),
        "configuration": {"blocking": False, "pushNotificationConfig": push},
    }
    task = result(first.rpc("message/send", params))
    receiver.wait_for("/killed", "TASK_STATE_WORKING")
    first.process.signal(signal.SIGKILL)
    killed = receiver.wait_for("/killed", "TASK_STATE_FAILED", timeout=LEASE_SECONDS * 10)
    assert [n.state for n in killed] == ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_FAILED"]
    assert result(second.rpc("tasks/get", {"id": task["id"]}))["status"]["state"] == "failed"
    time.sleep(LEASE_SECONDS)  # another sweep round: still nothing sent twice
    assert receiver.delivered("/killed") == killed


def test_a_delivery_left_by_a_killed_replica_is_made_by_the_other(
    replicas: tuple[AgentProcess, AgentProcess], receiver: WebhookReceiver
) -> None:
    first, second = replicas
    receiver.held.add("/held")  # the first replica's POST waits for an answer that never comes
    params = {
        "message": a2a_user_message("hello"),
        "configuration": {"blocking": False, "pushNotificationConfig": {"url": f"{receiver.base_url}/held"}},
    }
    task = result(first.rpc("message/send", params))
    deadline = time.monotonic() + 20
    while not receiver.received or second.rpc("tasks/get", {"id": task["id"]})["result"]["status"]["state"] != (
        "completed"
    ):
        assert time.monotonic() < deadline, "the task never completed, or its first notification never came"
        time.sleep(0.05)
    first.process.signal(signal.SIGKILL)  # while delivering the first state change, before the others
    receiver.release()

    delivered = receiver.wait_for("/held", "TASK_STATE_COMPLETED", timeout=LEASE_SECONDS * 10)
    assert [n.state for n in delivered] == ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    event_ids = [(n.body.get("task") or n.body["statusUpdate"])["metadata"]["pais_event_id"] for n in delivered]
    assert len(set(event_ids)) == 3
    assert next(n.status for n in receiver.received) == 0  # the killed replica's attempt, never answered
