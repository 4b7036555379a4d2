"""Memory inspection for the KAOS UI: `/memory/sessions` and `/memory/events`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pais_memory import Page

from .._deps import RuntimeDep
from ..auth import ALL, NOTHING
from ..http._errors import error_responses

__all__ = ["router"]

router = APIRouter(prefix="/memory")

Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/sessions", responses=error_responses(400, 401, 500, 503))
async def sessions(runtime: RuntimeDep, cursor: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    """Session ids, oldest first (those the caller may list); follow `next_cursor` for more."""
    owner = runtime.runner.access.listing_owner()
    if owner == NOTHING:
        page = Page[str](items=[], total=0)
    else:
        page = await runtime.memory.list_sessions(cursor=cursor, limit=limit, owner=None if owner == ALL else owner)
    return {
        "agent": runtime.settings.agent_name,
        "sessions": page.items,
        "total": page.total,
        "next_cursor": page.next_cursor,
    }


@router.get("/events", responses=error_responses(400, 401, 404, 500, 503))
async def events(
    runtime: RuntimeDep,
    session_id: Annotated[str, Query(min_length=1)],
    cursor: str | None = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """One session's events in order; follow `next_cursor` for more."""
    await runtime.runner.access.check_read(session_id)
    page = await runtime.memory.get_events(session_id, cursor=cursor, limit=limit)
    return {
        "agent": runtime.settings.agent_name,
        "session_id": session_id,
        "events": [event.model_dump(mode="json") for event in page.items],
        "total": page.total,
        "next_cursor": page.next_cursor,
    }
