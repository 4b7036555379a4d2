"""`GET /v1/chat/completions/{id}/events`: resume a streamed chat completion from its run log, on any replica."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import Response

from pais_core import BadRequestError, NotFoundError

from ..._deps import RuntimeDep
from ...http._errors import error_responses
from .._sse import event_stream

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/v1/chat/completions/{completion_id}/events",
    responses=error_responses(400, 401, 404, 503),
    summary="Resume a streamed chat completion",
)
async def resume_completion(
    completion_id: str,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(description="the `id:` of the last event received")] = None,
) -> Response:
    """The events of a streamed completion after `Last-Event-ID` (all of them without it), then live ones to `[DONE]`.

    Works on any replica while the stream's run log is kept (`RUN_LOG_RETENTION_SECONDS` after it ended).
    """
    seen = 0
    if last_event_id:
        if not (last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) <= 18):
            raise BadRequestError(f"Last-Event-ID must be an event id of this stream, not {last_event_id!r}")
        seen = int(last_event_id)
    memory = runtime.memory
    unknown = NotFoundError(
        f"no streamed completion {completion_id!r} (unknown, or it ended more than RUN_LOG_RETENTION_SECONDS ago)"
    )
    first = await memory.read_run_events(completion_id, limit=1)
    if not first:
        raise unknown
    session_id = json.loads(str(first[0].data["data"])).get("session_id")  # the first chunk names the session
    try:
        await runtime.runner.access.check_read(str(session_id))
    except NotFoundError:
        raise unknown from None  # another principal's stream
    timeout = runtime.settings.request_timeout_seconds  # no run lasts longer: a stream its replica lost ends here

    async def payloads() -> AsyncGenerator[tuple[str, str]]:
        try:
            async with asyncio.timeout(timeout):
                async for event in memory.follow_run_events(completion_id):
                    if (seq := int(event.data["seq"])) > seen:
                        yield str(seq), str(event.data["data"])
        except TimeoutError:
            return

    return event_stream(payloads())
