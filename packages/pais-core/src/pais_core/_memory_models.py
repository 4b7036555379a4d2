"""Memory event wire model: what `/memory/events` returns and what backends store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["EventType", "MemoryEvent", "new_event_id"]

EventType = Literal[
    "user_message",
    "agent_response",
    "tool_call",
    "tool_result",
    "delegation_request",
    "delegation_response",
    "task_delegation_received",
    "error",
    "summary",
    "approval_requested",
    "approval_decided",
]


def new_event_id() -> str:
    """Return a collision-free event id (UUIDv4, 122 random bits)."""
    return f"evt_{uuid.uuid4().hex}"


def _now() -> datetime:
    return datetime.now(UTC)


class MemoryEvent(BaseModel):
    """One entry of a session's append-only event log."""

    event_id: str = Field(default_factory=new_event_id)
    timestamp: datetime = Field(default_factory=_now)
    event_type: EventType
    content: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
