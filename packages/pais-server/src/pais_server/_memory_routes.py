"""Memory inspection for the KAOS UI: `/memory/sessions` and `/memory/events`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pais_core import BadRequestError

from ._deps import RuntimeDep

__all__ = ["router"]

router = APIRouter(prefix="/memory")

Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/sessions")
async def sessions(runtime: RuntimeDep, cursor: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    """Session ids, oldest first; follow `next_cursor` for more."""
    page = await runtime.memory.list_sessions(cursor=cursor, limit=limit)
    return {
        "agent": runtime.settings.agent_name,
        "sessions": page.items,
        "total": page.total,
        "next_cursor": page.next_cursor,
    }


@router.get("/events")
async def events(
    runtime: RuntimeDep, session_id: str | None = None, cursor: str | None = None, limit: Limit = 100
) -> dict[str, Any]:
    """One session's events in order; follow `next_cursor` for more."""
    if not session_id:
        raise BadRequestError("the session_id query parameter is required")
    page = await runtime.memory.get_events(session_id, cursor=cursor, limit=limit)
    return {
        "agent": runtime.settings.agent_name,
        "session_id": session_id,
        "events": [event.model_dump(mode="json") for event in page.items],
        "total": page.total,
        "next_cursor": page.next_cursor,
    }
