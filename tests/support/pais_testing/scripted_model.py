"""A scripted OpenAI-compatible Chat Completions server for exact assertions.

Each reply is chosen by a handler from the request alone (no shared counters), so concurrent
conversations never disturb each other. `scripted(...)` replays a list: the n-th model call
after the last user message gets the n-th reply.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .threaded_server import ThreadedServer

__all__ = ["ModelCall", "Reply", "ScriptedModelServer", "scripted", "tool_call"]


@dataclass(frozen=True)
class Reply:
    """What the model answers: text, tool calls, or an HTTP error."""

    text: str = ""
    tool_calls: Sequence[tuple[str, dict[str, Any]]] = ()
    chunk_delay: float = 0.0
    delay: float = 0.0
    status: int = 200
    finish_reason: str | None = None
    """As the model API reports it; by default `tool_calls` with tool calls, else `stop`."""
    usage: bool = True
    """False: no usage anywhere in the reply (llama.cpp's server streams none)."""


def tool_call(name: str, **arguments: Any) -> Reply:
    """A reply that calls one tool."""
    return Reply(tool_calls=[(name, arguments)])


@dataclass
class ModelCall:
    """One request the server received."""

    body: dict[str, Any]
    headers: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    finished_at: float | None = None
    """`time.monotonic()` when the last byte of the reply was produced."""

    def text_of(self, role: str) -> list[str]:
        """The text contents of every message with `role`."""
        texts: list[str] = []
        for message in self.messages:
            if message.get("role") != role:
                continue
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            texts.append(content or "")
        return texts

    @property
    def last_user_text(self) -> str:
        users = self.text_of("user")
        return users[-1] if users else ""


Handler = Callable[[ModelCall], Reply]


def scripted(*replies: Reply | str) -> Handler:
    """Replay `replies` per conversation; past the end, the last reply repeats."""
    script = [Reply(text=r) if isinstance(r, str) else r for r in replies]

    def handler(call: ModelCall) -> Reply:
        last_user = max((i for i, m in enumerate(call.messages) if m.get("role") == "user"), default=-1)
        answered = sum(1 for m in call.messages[last_user + 1 :] if m.get("role") == "assistant")
        return script[min(answered, len(script) - 1)]

    return handler


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedModelServer(ThreadedServer):
    """The scripted model on a loopback port; `url` is its OpenAI base URL (with `/v1`)."""

    model_name = "scripted"

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or scripted("ok")
        self.calls: list[ModelCall] = []
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        super().__init__(app)
        self.url = f"{self.base_url}/v1"

    async def _models(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": self.model_name, "object": "model", "owned_by": "test"}],
            }
        )

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        call = ModelCall(body=body, headers=dict(request.headers), messages=list(body.get("messages", [])))
        self.calls.append(call)
        reply = self.handler(call)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            error = {"error": {"message": f"scripted failure {reply.status}", "type": "server_error"}}
            return JSONResponse(error, status_code=reply.status)
        prompt_tokens = _tokens(json.dumps(call.messages))
        completion_tokens = _tokens(reply.text) + 10 * len(reply.tool_calls)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        tool_calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": n, "arguments": json.dumps(a)},
            }
            for n, a in reply.tool_calls
        ]
        finish = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
        if body.get("stream"):
            stream = self._stream(call, reply, tool_calls, finish, usage)
            return StreamingResponse(stream, media_type="text/event-stream")
        call.finished_at = time.monotonic()
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                **({"usage": usage} if reply.usage else {}),
            }
        )

    async def _stream(
        self, call: ModelCall, reply: Reply, tool_calls: list[dict[str, Any]], finish: str, usage: dict[str, int]
    ) -> AsyncIterator[str]:
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model_name,
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
            data = {
                **base,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                **extra,
            }
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        words = reply.text.split(" ")
        for i, word in enumerate(words):
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            piece = word if i == len(words) - 1 else word + " "
            if piece:
                yield chunk({"content": piece})
        for index, tool in enumerate(tool_calls):
            yield chunk({"tool_calls": [{"index": index, **tool}]})
        call.finished_at = time.monotonic()
        yield chunk({}, finish)
        if reply.usage:
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"
