"""Server-sent events: FastAPI's event-stream response, and the streamed chat completion."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextlib import aclosing
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar, cast

from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic_ai import CancellationToken

from pais_core import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    DeltaToolCall,
    ErrorBody,
    PaisError,
    Progress,
    new_completion_id,
)

from ..runtime._run_log import RunLogWriter
from ..runtime._runner import AgentRunner, FinishReason, RunEvent, RunInput, TextDelta, ToolProgress

__all__ = ["event_stream", "relay", "stream_completion"]

# What FastAPI's own SSE path operations send: no caching, and no buffering in nginx-style proxies.
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_END = object()
_T = TypeVar("_T")
_KAOS_ACTIONS = {"tool_call": "tool_call", "delegation": "delegate"}
"""Progress types sent as content with `STREAM_PROGRESS=content`, and the `action` KAOS reads for each."""


def event_stream(
    payloads: AsyncGenerator[str | tuple[str, str]], headers: Mapping[str, str] | None = None
) -> EventSourceResponse:
    """FastAPI's `EventSourceResponse` sending each payload as one event's `data` (an `(id, data)` pair: with an `id`).

    The routes answer JSON or a stream depending on the request, and an error before the first
    event keeps its status, so they return this response rather than being generator path operations.
    """

    async def encoded() -> AsyncIterator[bytes]:
        async with aclosing(payloads):  # closed with the response, also when the client goes away
            async for payload in payloads:
                if isinstance(payload, tuple):
                    yield format_sse_event(id=payload[0], data_str=payload[1])
                else:
                    yield format_sse_event(data_str=payload)

    return EventSourceResponse(encoded(), headers={**_SSE_HEADERS, **(headers or {})})


class _Chunks:
    """Renders run events as the JSON chunks of one completion."""

    def __init__(self, model: str, session_id: str, progress: str = "field") -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.session_id = session_id
        self.progress = progress

    def _json(self, chunk: ChatCompletionChunk) -> str:
        data = chunk.model_dump(exclude_none=True)
        for rendered, choice in zip(data["choices"], chunk.choices, strict=True):
            rendered["finish_reason"] = choice.finish_reason  # OpenAI always sends it, null until the end
        return json.dumps(data, separators=(",", ":"))

    def chunk(
        self,
        delta: Delta,
        *,
        finish_reason: FinishReason | None = None,
        progress: Progress | None = None,
        session_id: str | None = None,
        pending_approvals: list[str] | None = None,
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
                pending_approvals=pending_approvals,
            )
        )

    def progress_chunks(self, progress: Progress) -> Iterator[str]:
        """Progress in the `progress` field; with `STREAM_PROGRESS=content` a call also as JSON content."""
        if self.progress == "none":
            return
        action = _KAOS_ACTIONS.get(progress.type) if self.progress == "content" else None
        if action is None:
            yield self.chunk(Delta(), progress=progress)
            return
        block = {
            "type": "progress",
            "step": progress.step,
            "max_steps": progress.max_steps,
            "action": action,
            "target": progress.target or progress.tool,
        }
        yield self.chunk(Delta(content=json.dumps(block, separators=(",", ":"))), progress=progress)

    def render(self, event: RunEvent, include_usage: bool) -> Iterator[str]:
        if isinstance(event, TextDelta):
            yield self.chunk(Delta(content=event.text))
        elif isinstance(event, ToolProgress):
            yield from self.progress_chunks(event.progress)
        else:
            if event.tool_calls:  # the client tool calls the run paused on, each whole in one chunk
                calls = [DeltaToolCall(index=i, **call.model_dump()) for i, call in enumerate(event.tool_calls)]
                yield self.chunk(Delta(tool_calls=calls))
            yield self.chunk(
                Delta(), finish_reason=event.finish_reason, pending_approvals=list(event.pending_approvals) or None
            )
            if include_usage and event.usage is not None:  # no usage chunk rather than zeros posing as counts
                usage = ChatCompletionChunk(
                    id=self.id, created=self.created, model=self.model, choices=[], usage=event.usage
                )
                yield self._json(usage)


async def relay(
    produce: Callable[[Callable[[_T], None]], Coroutine[Any, Any, None]],
    *,
    detach: Callable[[Coroutine[Any, Any, None]], None] | None = None,
    abandoned: Callable[[], None] | None = None,
) -> AsyncGenerator[_T]:
    """Run `produce(send)` in a task of its own and stream what it sends, once the first item is known.

    A `PaisError` it raises before sending anything is raised here, so the route still answers with
    the error's status; one raised later is raised by the returned generator. The task runs apart from
    the response because a run's timeout and session lock belong to the task that entered them. With
    `detach` (`runner.in_background`) it outlives a client that goes away; without, closing the
    returned generator cancels it. `abandoned` is called when the generator is closed before the end
    (the client went away mid-stream).
    """
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump() -> None:
        try:
            await produce(queue.put_nowait)
        except PaisError as exc:
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    task: asyncio.Task[None] | None = None
    if detach is not None:
        detach(pump())
    else:
        task = asyncio.get_running_loop().create_task(pump())
    first = await queue.get()
    if isinstance(first, PaisError):
        raise first

    async def items() -> AsyncGenerator[_T]:
        item = first
        try:
            while item is not _END:
                if isinstance(item, PaisError):
                    raise item
                yield cast(_T, item)
                item = await queue.get()
        finally:
            if task is not None and not task.done():
                task.cancel()
            if item is not _END and abandoned is not None:
                abandoned()

    return items()


async def stream_completion(
    runner: AgentRunner, inp: RunInput, *, model: str, include_usage: bool, cancel_on_disconnect: bool = False
) -> EventSourceResponse:
    """Start the run and answer with an event stream once its first event is known.

    An error before the first event becomes a normal error response with its status; later
    errors end the stream with an OpenAI `error` event. Every event carries an `id:` (1, 2, ...)
    and goes to the run log named by the completion id, so `GET /v1/chat/completions/{id}/events`
    resumes the stream on any replica. A client that disconnects does not stop the run: it
    finishes (within `REQUEST_TIMEOUT_SECONDS`) and records its turn, unless
    `cancel_on_disconnect` (the run is cancelled then, and its log ends with the error).
    """
    token = CancellationToken() if cancel_on_disconnect else None
    if token is not None:
        inp = replace(inp, cancellation=token)
    chunks = _Chunks(model, inp.session_id, runner.settings.stream_progress)
    log = RunLogWriter(runner.memory, chunks.id)

    async def produce(deliver: Callable[[tuple[str, str]], None]) -> None:
        sent = 0

        def send(payload: str) -> None:
            nonlocal sent
            sent += 1
            deliver((str(sent), payload))
            log.emit({"seq": sent, "data": payload}, final=payload == "[DONE]")

        try:
            async for event in runner.stream(inp):
                if not sent:
                    send(chunks.chunk(Delta(role="assistant", content=""), session_id=inp.session_id))
                for payload in chunks.render(event, include_usage):
                    send(payload)
        except PaisError as exc:
            if not sent:
                raise
            send(ErrorBody.of(exc.message, exc.error_type, exc.code).model_dump_json(exclude_none=True))
        finally:
            if sent:  # also when the server stops the run: the log always ends
                send("[DONE]")
            await log.close()

    detach = partial(runner.in_background, name=f"chat-stream-{chunks.id}")
    payloads = await relay(produce, detach=detach, abandoned=token.cancel if token is not None else None)
    headers = {"X-Session-ID": inp.session_id, "X-Completion-ID": chunks.id}
    return event_stream(payloads, headers=headers)
