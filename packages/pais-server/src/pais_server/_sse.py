"""Server-sent events: FastAPI's event-stream response, and the streamed chat completion."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import aclosing
from typing import Literal

from fastapi.sse import EventSourceResponse, format_sse_event

from pais_core import ChatCompletionChunk, ChunkChoice, Delta, ErrorBody, PaisError, Progress, new_completion_id

from ._runner import AgentRunner, RunEvent, RunInput, RunResult, TextDelta, ToolProgress

__all__ = ["event_stream", "stream_completion"]

# What FastAPI's own SSE path operations send: no caching, and no buffering in nginx-style proxies.
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_END = object()


def event_stream(payloads: AsyncGenerator[str], headers: Mapping[str, str] | None = None) -> EventSourceResponse:
    """FastAPI's `EventSourceResponse` sending each of `payloads` as the `data` of one event.

    The routes answer JSON or a stream depending on the request, and an error before the first
    event keeps its status, so they return this response rather than being generator path operations.
    """

    async def encoded() -> AsyncIterator[bytes]:
        async with aclosing(payloads):  # closed with the response, also when the client goes away
            async for payload in payloads:
                yield format_sse_event(data_str=payload)

    return EventSourceResponse(encoded(), headers={**_SSE_HEADERS, **(headers or {})})


class _Chunks:
    """Renders run events as the JSON chunks of one completion."""

    def __init__(self, model: str, session_id: str) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.session_id = session_id

    def _json(self, chunk: ChatCompletionChunk) -> str:
        data = chunk.model_dump(exclude_none=True)
        for rendered, choice in zip(data["choices"], chunk.choices, strict=True):
            rendered["finish_reason"] = choice.finish_reason  # OpenAI always sends it, null until the end
        return json.dumps(data, separators=(",", ":"))

    def chunk(
        self,
        delta: Delta,
        *,
        finish_reason: Literal["stop"] | None = None,
        progress: Progress | None = None,
        session_id: str | None = None,
    ) -> str:
        choice = ChunkChoice(delta=delta, finish_reason=finish_reason)
        return self._json(
            ChatCompletionChunk(
                id=self.id,
                created=self.created,
                model=self.model,
                choices=[choice],
                progress=progress,
                session_id=session_id,
            )
        )

    def render(self, event: RunEvent, include_usage: bool) -> Iterator[str]:
        if isinstance(event, TextDelta):
            yield self.chunk(Delta(content=event.text))
        elif isinstance(event, ToolProgress):
            yield self.chunk(Delta(), progress=event.progress)
        else:
            yield self.chunk(Delta(), finish_reason="stop")
            if include_usage:
                usage = ChatCompletionChunk(
                    id=self.id, created=self.created, model=self.model, choices=[], usage=event.usage
                )
                yield self._json(usage)


async def stream_completion(
    runner: AgentRunner, inp: RunInput, *, model: str, include_usage: bool
) -> EventSourceResponse:
    """Start the run and answer with an event stream once its first event is known.

    An error before the first event becomes a normal error response with its status; later
    errors end the stream with an OpenAI `error` event.
    """
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for event in runner.stream(inp):
                queue.put_nowait(event)
        except PaisError as exc:
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    producer = asyncio.get_running_loop().create_task(produce())
    first = await queue.get()
    if isinstance(first, PaisError):
        await producer
        raise first
    chunks = _Chunks(model, inp.session_id)

    async def payloads() -> AsyncGenerator[str]:
        try:
            yield chunks.chunk(Delta(role="assistant", content=""), session_id=inp.session_id)
            item = first
            while item is not _END:
                if isinstance(item, PaisError):
                    error = ErrorBody.of(item.message, item.error_type, item.code)
                    yield error.model_dump_json(exclude_none=True)
                elif isinstance(item, TextDelta | ToolProgress | RunResult):
                    for payload in chunks.render(item, include_usage):
                        yield payload
                item = await queue.get()
            yield "[DONE]"
        finally:
            if not producer.done():
                producer.cancel()

    return event_stream(payloads(), headers={"X-Session-ID": inp.session_id})
