"""Server-sent events for streamed chat completions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

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

from ._runner import AgentRunner, FinishReason, RunEvent, RunInput, RunResult, TextDelta, ToolProgress

__all__ = ["stream_completion"]

_END = object()


class _Chunks:
    """Renders run events as `data:` lines of one completion."""

    def __init__(self, model: str, session_id: str) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.session_id = session_id

    def _line(self, chunk: ChatCompletionChunk) -> str:
        data = chunk.model_dump(exclude_none=True)
        for rendered, choice in zip(data["choices"], chunk.choices, strict=True):
            rendered["finish_reason"] = choice.finish_reason  # OpenAI always sends it, null until the end
        return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"

    def chunk(
        self,
        delta: Delta,
        *,
        finish_reason: FinishReason | None = None,
        progress: Progress | None = None,
        session_id: str | None = None,
    ) -> str:
        choice = ChunkChoice(delta=delta, finish_reason=finish_reason)
        return self._line(
            ChatCompletionChunk(
                id=self.id,
                created=self.created,
                model=self.model,
                choices=[choice],
                progress=progress,
                session_id=session_id,
            )
        )

    def render(self, event: RunEvent, include_usage: bool) -> str:
        if isinstance(event, TextDelta):
            return self.chunk(Delta(content=event.text))
        if isinstance(event, ToolProgress):
            return self.chunk(Delta(), progress=event.progress)
        lines = ""
        if event.tool_calls:  # the client tool calls the run paused on, each whole in one chunk
            calls = [DeltaToolCall(index=i, **call.model_dump()) for i, call in enumerate(event.tool_calls)]
            lines += self.chunk(Delta(tool_calls=calls))
        lines += self.chunk(Delta(), finish_reason=event.finish_reason)
        if include_usage and event.usage is not None:  # no usage chunk rather than zeros posing as counts
            usage = ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[], usage=event.usage
            )
            lines += self._line(usage)
        return lines


async def stream_completion(
    runner: AgentRunner, inp: RunInput, *, model: str, include_usage: bool
) -> StreamingResponse:
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

    async def body() -> AsyncIterator[str]:
        try:
            yield chunks.chunk(Delta(role="assistant", content=""), session_id=inp.session_id)
            item = first
            while item is not _END:
                if isinstance(item, PaisError):
                    error = ErrorBody.of(item.message, item.error_type, item.code)
                    yield f"data: {error.model_dump_json(exclude_none=True)}\n\n"
                elif isinstance(item, TextDelta | ToolProgress | RunResult):
                    yield chunks.render(item, include_usage)
                item = await queue.get()
            yield "data: [DONE]\n\n"
        finally:
            if not producer.done():
                producer.cancel()

    headers = {"X-Session-ID": inp.session_id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
