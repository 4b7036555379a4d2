"""Small sub-agents on loopback that answer chat completions and/or A2A JSON-RPC like PAIS does.

`FakeSubAgent` records every request (path, headers, JSON body) and answers from what its "model"
would see: the forwarded context plus the task. Its behaviour (delay, HTTP status, garbage body,
task state) can be changed between calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from pais_core import (
    A2A_METHODS,
    Artifact,
    Message,
    MessageSendParams,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    TextPart,
    from_v1,
    to_v1,
    to_v1_stream_response,
)
from pais_delegation import CONTEXT_METADATA_KEY

from .threaded_server import ThreadedServer

__all__ = ["FakeSubAgent", "ReceivedRequest", "default_answer"]

ChatMessages = list[dict[str, str]]


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int

    @property
    def method(self) -> str | None:
        """The JSON-RPC method, for A2A requests."""
        return self.body.get("method") if isinstance(self.body, dict) else None


def default_answer(name: str) -> Callable[[ChatMessages], str]:
    """An answer that shows everything the agent's model saw: the task and the earlier messages."""

    def answer(messages: ChatMessages) -> str:
        earlier = " | ".join(f"{m['role']}: {m['content']}" for m in messages[:-1])
        return f"{name} did '{messages[-1]['content']}' knowing [{earlier}]"

    return answer


class FakeSubAgent:
    """A sub-agent serving its card and chat completions, plus A2A JSON-RPC at `POST /` when `a2a` is set."""

    def __init__(
        self,
        name: str,
        *,
        description: str = "A fake sub-agent.",
        a2a: Literal["0.3", "1.0"] | None = None,
        card: Literal["current", "legacy", "none"] = "current",
        answer: Callable[[ChatMessages], str] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.a2a = a2a
        self.card = card
        self.answer = answer or default_answer(name)
        self.delay = 0.0
        self.status = 200
        self.garbage = False
        self.task_state: TaskState = "completed"
        self.working_polls = 0
        self.requests: list[ReceivedRequest] = []
        self.card_requests = 0
        self.tasks: dict[str, Task] = {}
        self._polls: dict[str, int] = {}
        routes = [
            Route("/.well-known/agent-card.json", self._card, methods=["GET"]),
            Route("/.well-known/agent.json", self._legacy_card, methods=["GET"]),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/", self._rpc, methods=["POST"]),
        ]
        self.server = ThreadedServer(Starlette(routes=routes))
        self.url = self.server.base_url

    def __enter__(self) -> FakeSubAgent:
        self.server.start()
        return self

    def __exit__(self, *args: object) -> None:
        self.server.stop()

    @property
    def calls(self) -> list[ReceivedRequest]:
        """Requests that asked for work (chat completions and A2A calls)."""
        return [r for r in self.requests if r.path in ("/v1/chat/completions", "/")]

    def card_data(self, base_url: str) -> dict[str, Any]:
        card: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "version": "0.1.0",
            "capabilities": {"streaming": True},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": [],
        }
        if self.a2a == "0.3":
            card.update(url=base_url, preferredTransport="JSONRPC", protocolVersion="0.3.0")
        elif self.a2a == "1.0":
            card["supportedInterfaces"] = [{"url": base_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]
        return card

    async def _card(self, request: Request) -> Response:
        if self.card != "current":
            return PlainTextResponse("not found", status_code=404)
        self.card_requests += 1
        return JSONResponse(self.card_data(str(request.base_url)))

    async def _legacy_card(self, request: Request) -> Response:
        if self.card != "legacy":
            return PlainTextResponse("not found", status_code=404)
        self.card_requests += 1
        return JSONResponse(self.card_data(str(request.base_url)))

    async def _record(self, request: Request) -> Any:
        body = await request.json()
        port = request.client.port if request.client else 0
        self.requests.append(ReceivedRequest(request.url.path, dict(request.headers), body, port))
        return body

    async def _misbehave(self) -> Response | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status >= 400:
            return JSONResponse({"error": {"message": "sub-agent exploded", "type": "server_error"}}, self.status)
        if self.garbage:
            return PlainTextResponse("<html>definitely not json</html>")
        return None

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        if (bad := await self._misbehave()) is not None:
            return bad
        messages = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer(messages)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def _rpc(self, request: Request) -> Response:
        body = await self._record(request)
        if (bad := await self._misbehave()) is not None:
            return bad
        operation, version = A2A_METHODS[body["method"]]
        params = body.get("params") or {}
        if operation in ("send", "stream"):
            task = self._run(from_v1(MessageSendParams, params).message)
            if operation == "stream":
                return StreamingResponse(self._stream(body["id"], task, version), media_type="text/event-stream")
            if self.working_polls:
                task = task.model_copy(update={"status": TaskStatus(state="working"), "artifacts": None})
            result = to_v1_stream_response(task) if version == "1.0" else self._wire(task, version)
            return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": result})
        task = self.tasks.get(params.get("id", ""))
        if task is None:
            return JSONResponse(
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32001, "message": "task not found"}}
            )
        if operation == "cancel":
            task = self.tasks[task.id] = task.model_copy(update={"status": TaskStatus(state="canceled")})
        elif operation == "get" and self._polls.get(task.id, 0) < self.working_polls:
            self._polls[task.id] = self._polls.get(task.id, 0) + 1
            task = task.model_copy(update={"status": TaskStatus(state="working")})
        return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": self._wire(task, version)})

    def _run(self, message: Message) -> Task:
        """What a PAIS worker does: the context part becomes earlier messages, the rest is the task."""
        messages: ChatMessages = []
        task_texts: list[str] = []
        for part in message.parts:
            if isinstance(part, TextPart) and part.metadata and CONTEXT_METADATA_KEY in part.metadata:
                messages.extend(part.metadata[CONTEXT_METADATA_KEY])
            elif isinstance(part, TextPart):
                task_texts.append(part.text)
        messages.append({"role": "user", "content": "\n".join(task_texts)})
        answer = self.answer(messages)
        reply = Message(role="agent", parts=[TextPart(text=answer)], contextId=message.context_id)
        task = Task(
            contextId=message.context_id or "ctx-fake",
            status=TaskStatus(state=self.task_state, message=reply if self.task_state != "completed" else None),
            artifacts=[Artifact(parts=[TextPart(text=answer)])] if self.task_state == "completed" else None,
            history=[message],
        )
        self.tasks[task.id] = task
        return task

    @staticmethod
    def _wire(model: Task, version: str) -> dict[str, Any]:
        return to_v1(model) if version == "1.0" else model.model_dump(mode="json", by_alias=True, exclude_none=True)

    async def _stream(self, rpc_id: Any, task: Task, version: str) -> AsyncIterator[str]:
        working = TaskStatusUpdateEvent(taskId=task.id, contextId=task.context_id, status=TaskStatus(state="working"))
        assert task.artifacts is not None
        artifact = TaskArtifactUpdateEvent(taskId=task.id, contextId=task.context_id, artifact=task.artifacts[0])
        done = TaskStatusUpdateEvent(
            taskId=task.id, contextId=task.context_id, status=TaskStatus(state="completed"), final=True
        )
        for event in (working, artifact, done):
            result = (
                to_v1_stream_response(event)
                if version == "1.0"
                else event.model_dump(mode="json", by_alias=True, exclude_none=True)
            )
            yield f"data: {json.dumps({'jsonrpc': '2.0', 'id': rpc_id, 'result': result})}\n\n"
