"""A2AClient: the task lifecycle against our fake sub-agent and against the official a2a-sdk server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest
from pais_testing.fake_agents import FakeSubAgent
from pais_testing.ports import free_port
from pais_testing.threaded_server import ThreadedServer

from pais_core import ListTasksParams, Message, Task, TaskArtifactUpdateEvent, TaskStatusUpdateEvent, TextPart
from pais_delegation import A2AClient, A2ARpcError, RemoteAgent

a2a = pytest.importorskip("a2a", reason="the interop tests need the a2a-sdk test dependency")


def user_message(text: str, context_id: str | None = None) -> Message:
    return Message(role="user", parts=[TextPart(text=text)], contextId=context_id)


@pytest.mark.parametrize("version", ["0.3", "1.0"])
async def test_lifecycle_against_fake_agent(version: Any) -> None:
    with FakeSubAgent("poet", a2a=version) as agent:
        client = A2AClient(agent.url + "/", version=version)
        sent = await client.send_message(user_message("a haiku", "ctx-1"))
        assert isinstance(sent, Task)
        assert sent.status.state == "completed"
        assert sent.context_id == "ctx-1"
        assert sent.text() == "poet did 'a haiku' knowing []"
        fetched = await client.get_task(sent.id)
        assert fetched.id == sent.id
        canceled = await client.cancel_task(sent.id)
        assert canceled.status.state == "canceled"
        events = [e async for e in client.stream_message(user_message("stream it"))]
        with pytest.raises(A2ARpcError, match="task not found") as info:
            await client.get_task("missing")
        await client.aclose()
    assert info.value.code == -32001
    assert [type(e) for e in events] == [TaskStatusUpdateEvent, TaskArtifactUpdateEvent, TaskStatusUpdateEvent]
    last = events[-1]
    assert isinstance(last, TaskStatusUpdateEvent)
    assert last.status.state == "completed"
    assert last.final is True
    methods = [c.method for c in agent.calls]
    expected = (
        ["message/send", "tasks/get", "tasks/cancel", "message/stream", "tasks/get"]
        if version == "0.3"
        else ["SendMessage", "GetTask", "CancelTask", "SendStreamingMessage", "GetTask"]
    )
    assert methods == expected


class _EchoExecutor:
    """An a2a-sdk agent executor that answers `echo: <input>` after an optional pause."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause

    async def execute(self, context: Any, event_queue: Any) -> None:
        from a2a.helpers import new_task_from_user_message
        from a2a.server.tasks import TaskUpdater
        from a2a.types import Part

        if context.current_task is None:
            await event_queue.enqueue_event(new_task_from_user_message(context.message))
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.start_work()
        await asyncio.sleep(self.pause)
        await updater.add_artifact([Part(text=f"echo: {context.get_user_input()}")])
        await updater.complete()

    async def cancel(self, context: Any, event_queue: Any) -> None:
        from a2a.server.tasks import TaskUpdater

        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def _sdk_server(version: str, pause: float) -> ThreadedServer:
    """An a2a-sdk JSON-RPC server (1.0, with 0.3 compatibility) on a free loopback port."""
    from a2a.server.agent_execution import AgentExecutor
    from a2a.server.request_handlers import DefaultRequestHandlerV2
    from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
    from a2a.server.tasks import InMemoryTaskStore
    from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
    from starlette.applications import Starlette

    port = free_port()
    executor_type = type("EchoExecutor", (_EchoExecutor, AgentExecutor), {})
    card = AgentCard(
        name="sdk-echo",
        description="Echoes through the official SDK.",
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="echo", description="Echoes the input.", tags=["echo"])],
        supported_interfaces=[
            AgentInterface(url=f"http://127.0.0.1:{port}/", protocol_binding="JSONRPC", protocol_version=version)
        ],
    )
    handler = DefaultRequestHandlerV2(executor_type(pause), InMemoryTaskStore(), card)
    routes = [*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/", enable_v0_3_compat=True)]
    return ThreadedServer(Starlette(routes=routes), port=port)


@pytest.fixture
def sdk_server() -> Iterator[ThreadedServer]:
    with _sdk_server("1.0", pause=0.0) as server:
        yield server


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_send_get_and_stream_against_the_official_sdk_server(sdk_server: ThreadedServer, version: Any) -> None:
    client = A2AClient(sdk_server.base_url + "/", version=version)
    sent = await client.send_message(user_message("hello", "ctx-sdk"))
    assert isinstance(sent, Task)
    assert sent.status.state == "completed"
    assert sent.text() == "echo: hello"
    assert sent.context_id == "ctx-sdk"
    fetched = await client.get_task(sent.id)
    assert fetched.status.state == "completed"
    assert fetched.text() == "echo: hello"
    events = [e async for e in client.stream_message(user_message("streamed"))]
    await client.aclose()
    texts = [e.artifact.parts[0] for e in events if isinstance(e, TaskArtifactUpdateEvent)]
    assert texts == [TextPart(text="echo: streamed")]
    final = events[-1]
    assert isinstance(final, TaskStatusUpdateEvent | Task)
    state = final.status.state
    assert state == "completed"


async def test_list_and_cancel_against_the_official_sdk_server() -> None:
    with _sdk_server("1.0", pause=5.0) as server:
        client = A2AClient(server.base_url + "/", version="1.0")
        stream = client.stream_message(user_message("long job", "ctx-long"))
        assert isinstance(stream, AsyncGenerator)
        first = await anext(stream)
        task_id = first.id if isinstance(first, Task) else getattr(first, "task_id", None)
        assert task_id is not None
        listed = await client.list_tasks(ListTasksParams(contextId="ctx-long"))
        assert [t.id for t in listed.tasks] == [task_id]
        canceled = await client.cancel_task(task_id)
        assert canceled.status.state == "canceled"
        await stream.aclose()
        await client.aclose()


async def test_remote_agent_delegates_to_the_official_sdk_server(sdk_server: ThreadedServer) -> None:
    async with RemoteAgent("sdk-echo", sdk_server.base_url) as remote:
        card = await remote.card()
        assert card is not None
        assert card.description == "Echoes through the official SDK."
        result = await remote.send("relay this", session_id="parent")
    assert result.transport == "a2a"
    assert result.text == "echo: relay this"
