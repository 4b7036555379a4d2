"""The `Memory` contract every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent

__all__ = ["Memory", "Page", "SessionWindow", "StoredTurn", "Summary"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Page(Generic[_T]):
    """One page of a listing; pass `next_cursor` back to get the next page (None at the end)."""

    items: list[_T]
    total: int
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class StoredTurn:
    """One stored turn: its native messages and `seq`, the position of its first event in the session's log."""

    seq: int
    messages: list[ModelMessage]


@dataclass(frozen=True)
class Summary:
    """A session's running summary of every turn stored before position `until_seq`.

    `event_id` is the `summary` event that recorded it.
    """

    text: str
    until_seq: int
    event_id: str


@dataclass(frozen=True)
class SessionWindow:
    """The latest summary (if any) and the most recent turns, oldest first."""

    summary: Summary | None
    turns: list[StoredTurn]


def summary_event(text: str, until_seq: int, through_event_id: str | None) -> MemoryEvent:
    """The `summary` event backends append when a summary is stored."""
    return MemoryEvent(
        event_type="summary",
        content=text,
        metadata={"until_seq": until_seq, "through_event_id": through_event_id},
    )


class Memory(ABC):
    """Per-session, append-only event log plus the native Pydantic AI messages of each turn.

    A *turn* is what one agent run added: the user prompt, tool calls and returns, and the
    final response. History is replayed whole turns at a time, so a tool call is never
    separated from its return.
    """

    @abstractmethod
    async def load_history(self, session_id: str, *, turns: int) -> list[ModelMessage]:
        """Return the native messages of the session's last `turns` turns, oldest first."""

    @abstractmethod
    async def load_window(self, session_id: str, *, turns: int, since_seq: int = 0) -> SessionWindow:
        """Return the session's summary and its last `turns` turns whose `seq` is at least `since_seq`.

        One read of the backend (one round trip for Redis), like `load_history`.
        """

    @abstractmethod
    async def put_summary(self, session_id: str, text: str, *, until_seq: int) -> MemoryEvent | None:
        """Record `text` as the summary of every turn before `until_seq`, plus a `summary` event saying so.

        Atomic, also across replicas: stored only while the session exists and its current summary
        covers less (a smaller `until_seq`); otherwise nothing changes and None is returned. The event's
        metadata holds `until_seq` and `through_event_id`, the last event the summary covers.
        """

    @abstractmethod
    def summary_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        """Hold the right to summarise the session (separate from `session_lock`), waiting at most `timeout`.

        Raises:
            SessionBusyError: another summariser held it for the whole wait.
        """

    @abstractmethod
    async def append(
        self, session_id: str, events: Sequence[MemoryEvent], messages: Sequence[ModelMessage] = ()
    ) -> None:
        """Atomically append `events` and, when given, one turn of native `messages`.

        Creates the session if it does not exist yet.
        """

    @abstractmethod
    async def has_session(self, session_id: str) -> bool:
        """Whether the session exists."""

    @abstractmethod
    async def list_sessions(self, *, cursor: str | None = None, limit: int = 100) -> Page[str]:
        """List session ids, oldest first."""

    @abstractmethod
    async def get_events(self, session_id: str, *, cursor: str | None = None, limit: int = 100) -> Page[MemoryEvent]:
        """List a session's events in order.

        Raises:
            NotFoundError: the session does not exist.
        """

    @abstractmethod
    def session_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        """Hold the session exclusively, waiting at most `timeout` seconds.

        Raises:
            SessionBusyError: another run held the session for the whole wait.
        """

    @abstractmethod
    async def put_task(
        self, task_id: str, context_id: str, task: dict[str, Any], *, unless_state_in: Collection[str] = ()
    ) -> bool:
        """Store (create or replace) an A2A task record; False when it was not stored.

        Args:
            unless_state_in: leave the stored record as it is when its `status.state` is one of these
                (checked and written atomically, also across replicas): a task that ended stays ended.
        """

    @abstractmethod
    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        """Return a stored A2A task record, or None."""

    @abstractmethod
    async def list_tasks(
        self, *, context_id: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[dict[str, Any]]:
        """List task records, oldest first, optionally only those of one context."""

    async def ping(self) -> None:
        """Check the backend is reachable.

        Raises:
            DependencyUnavailableError: it is not.
        """

    async def close(self) -> None:
        """Release connections; the memory is unusable afterwards."""
