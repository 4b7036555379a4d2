"""The official `a2a-sdk` client against a PAIS server: card, send, stream, get, list and cancel, in 1.0 and 0.3."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pais_testing.scripted_model import Reply, ScriptedModelServer

from .conftest import Served

a2a = pytest.importorskip("a2a", reason="needs the a2a-sdk dev dependency")

from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory  # noqa: E402
from a2a.helpers import get_artifact_text, new_text_message  # noqa: E402
from a2a.types import a2a_pb2 as pb  # noqa: E402
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError  # noqa: E402

SLOW_MODEL_SECONDS = 4.0


async def sdk_client(served: Served, version: str, *, streaming: bool = True, polling: bool = False) -> Client:
    """A client made by the SDK's factory from the card PAIS serves (keeping only `version`'s interface)."""
    http = httpx.AsyncClient(timeout=30)
    card = await A2ACardResolver(http, served.url).get_agent_card()
    await http.aclose()
    chosen = [i for i in card.supported_interfaces if i.protocol_version.startswith(version)]
    assert chosen, card.supported_interfaces
    del card.supported_interfaces[:]
    card.supported_interfaces.extend(chosen)
    return ClientFactory(ClientConfig(streaming=streaming, polling=polling)).create(card)


async def collect(stream: AsyncIterator[pb.StreamResponse]) -> list[pb.StreamResponse]:
    return [event async for event in stream]


async def test_the_sdk_reads_the_card_and_picks_protocol_1_0(pais: Served) -> None:
    async with httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, pais.url).get_agent_card()
    assert card.name == "test-agent"
    assert card.capabilities.streaming is True
    assert {(i.protocol_binding, i.protocol_version) for i in card.supported_interfaces} == {
        ("JSONRPC", "1.0"),
        ("JSONRPC", "0.3.0"),
    }
    client = ClientFactory(ClientConfig()).create(card)
    assert type(vars(client)["_transport"]).__name__ == "JsonRpcTransport"
    await client.close()


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_send_get_and_stream(pais: Served, scripted_model: ScriptedModelServer, version: str) -> None:
    scripted_model.handler = lambda call: Reply(text=f"answer to {call.last_user_text}")
    client = await sdk_client(pais, version, streaming=False)
    sent = await collect(client.send_message(pb.SendMessageRequest(message=_user("hello sdk", "ctx-sdk"))))
    assert len(sent) == 1
    task = sent[0].task
    assert task.status.state == pb.TASK_STATE_COMPLETED
    assert task.context_id == "ctx-sdk"
    assert get_artifact_text(task.artifacts[0]) == "answer to hello sdk"

    fetched = await client.get_task(pb.GetTaskRequest(id=task.id))
    assert fetched.id == task.id
    assert fetched.status.state == pb.TASK_STATE_COMPLETED
    assert get_artifact_text(fetched.artifacts[0]) == "answer to hello sdk"
    await client.close()

    streaming = await sdk_client(pais, version)
    events = await collect(streaming.send_message(pb.SendMessageRequest(message=_user("stream it", "ctx-sdk"))))
    await streaming.close()
    assert events[0].HasField("task")
    assert events[0].task.status.state == pb.TASK_STATE_SUBMITTED
    text = "".join(get_artifact_text(e.artifact_update.artifact) for e in events if e.HasField("artifact_update"))
    assert text == "answer to stream it"
    assert events[-1].HasField("status_update")
    assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED
    # both turns went to the memory session named by the context
    assert [e["event_type"] for e in pais.events("ctx-sdk")] == ["user_message", "agent_response"] * 2


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_cancel_a_running_task(pais: Served, scripted_model: ScriptedModelServer, version: str) -> None:
    scripted_model.handler = lambda call: Reply(text="too late", delay=SLOW_MODEL_SECONDS)
    client = await sdk_client(pais, version, streaming=False, polling=True)
    sent = await collect(client.send_message(pb.SendMessageRequest(message=_user("slow job", f"ctx-cancel-{version}"))))
    task = sent[0].task
    assert task.status.state in (pb.TASK_STATE_SUBMITTED, pb.TASK_STATE_WORKING)
    for _ in range(500):  # until the model request is in flight
        if scripted_model.calls:
            break
        await asyncio.sleep(0.02)

    canceled = await client.cancel_task(pb.CancelTaskRequest(id=task.id))
    assert canceled.status.state == pb.TASK_STATE_CANCELED
    assert (await client.get_task(pb.GetTaskRequest(id=task.id))).status.state == pb.TASK_STATE_CANCELED
    with pytest.raises(TaskNotCancelableError, match="already canceled"):
        await client.cancel_task(pb.CancelTaskRequest(id=task.id))
    with pytest.raises(TaskNotFoundError):
        await client.get_task(pb.GetTaskRequest(id="no-such-task"))
    await client.close()
    events = await _events_soon(pais, f"ctx-cancel-{version}")
    assert [e["event_type"] for e in events] == ["user_message", "error"]
    assert events[-1]["metadata"]["code"] == "cancelled"


async def test_list_tasks_with_the_1_0_client(pais: Served) -> None:
    client = await sdk_client(pais, "1.0", streaming=False)
    ids: list[str] = []
    for text in ("one", "two"):
        sent = await collect(client.send_message(pb.SendMessageRequest(message=_user(text, "ctx-list"))))
        ids.append(sent[0].task.id)
    listed = await client.list_tasks(pb.ListTasksRequest(context_id="ctx-list", include_artifacts=True))
    await client.close()
    assert [t.id for t in listed.tasks] == ids[::-1]  # the latest update first
    assert all(t.status.state == pb.TASK_STATE_COMPLETED for t in listed.tasks)
    assert listed.total_size == 2


def _user(text: str, context_id: str) -> pb.Message:
    return new_text_message(text, context_id=context_id, role=pb.Role.ROLE_USER)


async def _events_soon(served: Served, session_id: str, timeout: float = SLOW_MODEL_SECONDS / 2) -> list[Any]:
    """The session's events once the stopped run has recorded itself (well before the slow model answers)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=served.url) as http:
        while True:
            response = await http.get("/memory/events", params={"session_id": session_id})
            if response.status_code == 200 or time.monotonic() > deadline:
                response.raise_for_status()
                return response.json()["events"]
            await asyncio.sleep(0.05)
