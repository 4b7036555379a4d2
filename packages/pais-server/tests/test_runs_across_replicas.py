"""Runs that outlive their request, across two replicas (processes) sharing Redis.

With the official a2a-sdk client, a streaming client that drops its connection on one replica
subscribes on the other and gets every event; a chat stream dropped on one replica is resumed on
the other with `Last-Event-ID`; a replica killed while running a task (also as soon as it answered
the send) leaves it to the other, which ends it `failed`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import httpx
import pytest
from pais_testing.agent_processes import AgentProcess, AgentProcesses, a2a_user_message
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import scripted_redis_env
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer

a2a = pytest.importorskip("a2a", reason="needs the a2a-sdk dev dependency")

from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory  # noqa: E402
from a2a.helpers import get_artifact_text, new_text_message  # noqa: E402
from a2a.types import a2a_pb2 as pb  # noqa: E402
from a2a.utils.errors import TaskNotFoundError  # noqa: E402

pytestmark = pytest.mark.redis

LEASE_SECONDS = 1.5
WORDS = [f"word{n}" for n in range(12)]
ANSWER = " ".join(WORDS)


def model(call: ModelCall) -> Reply:
    if "stuck" in call.last_user_text:
        return Reply(text="never sent", delay=8.0)  # longer than the lease takes to run out
    return Reply(text=ANSWER, chunk_delay=0.25)  # about 3 s, one word per chunk


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[AgentProcesses, dict[str, str]]]:
    """Where the module's replicas run, and their environment."""
    with RedisServer() as redis, ScriptedModelServer(model) as scripted, AgentProcesses() as processes:
        yield processes, scripted_redis_env(scripted.url, redis.url, A2A_TASK_LEASE_SECONDS=str(LEASE_SECONDS))


@pytest.fixture(scope="module")
def replicas(cluster: tuple[AgentProcesses, dict[str, str]]) -> tuple[AgentProcess, AgentProcess]:
    """Two replicas for the module; the last test kills the first."""
    processes, env = cluster
    return processes.start("runs", env), processes.start("runs", env)


async def sdk_client(replica: AgentProcess) -> Client:
    """A streaming 1.0 client for the replica, made by the SDK's factory from the card it serves."""
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, replica.url).get_agent_card()
    chosen = [i for i in card.supported_interfaces if i.protocol_version == "1.0"]
    del card.supported_interfaces[:]
    card.supported_interfaces.extend(chosen)
    return ClientFactory(ClientConfig(streaming=True)).create(card)


def message(text: str) -> pb.Message:
    return new_text_message(text, context_id=f"ctx-{uuid.uuid4().hex[:8]}", role=pb.Role.ROLE_USER)


def answer_text(events: list[pb.StreamResponse]) -> str:
    return "".join(get_artifact_text(e.artifact_update.artifact) for e in events if e.HasField("artifact_update"))


async def test_a_dropped_stream_is_resumed_on_the_other_replica_with_nothing_missing(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    first, second = replicas
    streaming = await sdk_client(first)
    seen_on_first: list[pb.StreamResponse] = []
    stream = streaming.send_message(pb.SendMessageRequest(message=message("tell me slowly")))
    assert isinstance(stream, AsyncGenerator)
    async for event in stream:
        seen_on_first.append(event)
        if sum(e.HasField("artifact_update") for e in seen_on_first) == 3:
            break
    await stream.aclose()
    await streaming.close()  # the connection is gone; the task goes on
    task_id = seen_on_first[0].task.id

    subscriber = await sdk_client(second)
    resumed = [event async for event in subscriber.subscribe(pb.SubscribeToTaskRequest(id=task_id))]

    assert resumed[0].HasField("task")
    assert resumed[0].task.id == task_id
    assert resumed[0].task.status.state == pb.TASK_STATE_WORKING
    assert answer_text(resumed) == ANSWER  # every chunk, the ones the first stream saw included, once each
    assert answer_text(resumed).startswith(answer_text(seen_on_first))
    assert resumed[-1].HasField("status_update")
    assert resumed[-1].status_update.status.state == pb.TASK_STATE_COMPLETED
    stored = await subscriber.get_task(pb.GetTaskRequest(id=task_id))
    assert stored.status.state == pb.TASK_STATE_COMPLETED
    assert get_artifact_text(stored.artifacts[0]) == ANSWER
    with pytest.raises(TaskNotFoundError):
        async for _ in subscriber.subscribe(pb.SubscribeToTaskRequest(id="no-such-task")):
            pass
    await subscriber.close()


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """`(id, data)` of each server-sent event."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            yield fields.get("id", ""), fields.get("data", "")
            fields = {}
        elif ":" in line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def content(events: list[tuple[str, str]]) -> str:
    chunks = [json.loads(data) for _, data in events if data.startswith("{")]
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])


def test_a_dropped_chat_stream_is_resumed_on_the_other_replica(replicas: tuple[AgentProcess, AgentProcess]) -> None:
    first, second = replicas
    body = {"messages": [{"role": "user", "content": "tell me slowly"}], "stream": True}
    seen: list[tuple[str, str]] = []
    with first.http.stream("POST", "/v1/chat/completions", json=body, headers={"X-Session-ID": "chat-resumed"}) as sent:
        completion_id = sent.headers["x-completion-id"]
        for event in sse_events(sent.iter_lines()):
            seen.append(event)
            if len(seen) == 4:  # the role chunk and three words: then the client goes away
                break

    path = f"/v1/chat/completions/{completion_id}/events"
    with second.http.stream("GET", path, headers={"Last-Event-ID": seen[-1][0]}) as resumed:
        assert resumed.status_code == 200
        rest = list(sse_events(resumed.iter_lines()))

    assert [int(event_id) for event_id, _ in seen + rest] == list(range(1, len(seen) + len(rest) + 1))
    assert content(seen) + content(rest) == ANSWER  # nothing missing, nothing twice
    assert rest[-1] == (str(len(seen) + len(rest)), "[DONE]")
    # the run finished although its client left, and its turn is in memory
    assert [e["event_type"] for e in second.events("chat-resumed")] == ["user_message", "agent_response"]
    assert second.http.get(path, headers={"Last-Event-ID": "x"}).status_code == 400
    missing = second.http.get("/v1/chat/completions/chatcmpl-unknown/events")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def result(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in answer, answer
    return answer["result"]


def test_a_task_whose_replica_was_killed_as_it_answered_does_not_stay_behind(
    cluster: tuple[AgentProcesses, dict[str, str]], replicas: tuple[AgentProcess, AgentProcess]
) -> None:
    processes, env = cluster
    doomed, survivor = processes.start("runs", env), replicas[1]
    params = {"message": a2a_user_message("stuck forever", "ctx-killed-early"), "configuration": {"blocking": False}}
    task = result(doomed.rpc("message/send", params))
    doomed.process.signal(signal.SIGKILL)  # the task was stored with its lease: nothing is left unleased
    deadline = time.monotonic() + LEASE_SECONDS * 10
    while (state := result(survivor.rpc("tasks/get", {"id": task["id"]}))["status"]["state"]) != "failed":
        assert state in ("submitted", "working"), state
        assert time.monotonic() < deadline, f"the task stayed {state}"
        time.sleep(0.05)


async def test_a_task_whose_replica_was_killed_ends_failed_through_the_other(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    doomed, survivor = replicas
    params = {"message": a2a_user_message("stuck forever", "ctx-killed"), "configuration": {"blocking": False}}
    task = result(doomed.rpc("message/send", params))
    deadline = time.monotonic() + 10
    while result(survivor.rpc("tasks/get", {"id": task["id"]}))["status"]["state"] != "working":
        assert time.monotonic() < deadline, "the task never started"
        await asyncio.sleep(0.05)
    subscriber = await sdk_client(survivor)
    events = subscriber.subscribe(pb.SubscribeToTaskRequest(id=task["id"]))
    first_event = await anext(events)
    assert first_event.task.status.state == pb.TASK_STATE_WORKING

    doomed.process.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    rest = [event async for event in events]
    noticed_after = time.monotonic() - killed_at
    await subscriber.close()

    final = rest[-1].status_update
    assert final.status.state == pb.TASK_STATE_FAILED
    assert "lease expired" in get_artifact_text(pb.Artifact(parts=final.status.message.parts))
    # the lease runs out at most LEASE_SECONDS after the last renewal, and a sweep comes every third of it
    # (the bound adds room for a loaded machine, and stays well below the model's 8 s answer)
    assert noticed_after < LEASE_SECONDS * 2 + 2.0
    stored = result(survivor.rpc("tasks/get", {"id": task["id"]}))
    assert stored["status"]["state"] == "failed"
    assert survivor.rpc("tasks/cancel", {"id": task["id"]})["error"]["code"] == -32002
