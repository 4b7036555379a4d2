"""The `Memory` contract every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent

__all__ = ["Memory", "Page"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Page(Generic[_T]):
    """One page of a listing; pass `next_cursor` back to get the next page (None at the end)."""

    items: list[_T]
    total: int
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])


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
    async def list_sessions(
        self, *, cursor: str | None = None, limit: int = 100, owner: str | None = None
    ) -> Page[str]:
        """List session ids, oldest first; with `owner`, only the sessions it claimed."""

    @abstractmethod
    async def claim_session(self, session_id: str, owner: str) -> str:
        """Record `owner` as the session's owner unless it has one (atomically, across replicas).

        Returns the owner on record: `owner` unless another claimed the session first. The
        ownership lives as long as the session (its TTL and eviction).
        """

    @abstractmethod
    async def session_owner(self, session_id: str) -> str | None:
        """The owner a session was claimed by, or None."""

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
        self,
        task_id: str,
        context_id: str,
        task: dict[str, Any],
        *,
        unless_state_in: Collection[str] = (),
        owner: str | None = None,
    ) -> bool:
        """Store (create or replace) an A2A task record; False when it was not stored.

        Args:
            owner: the principal the task is listed under (`list_tasks(owner=...)`).
            unless_state_in: leave the stored record as it is when its `status.state` is one of these
                (checked and written atomically, also across replicas): a task that ended stays ended.
        """

    @abstractmethod
    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        """Return a stored A2A task record, or None."""

    @abstractmethod
    async def list_tasks(
        self,
        *,
        context_id: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        owner: str | None = None,
    ) -> Page[dict[str, Any]]:
        """List task records, oldest first: all, those of one context, or (without `context_id`) those of one owner."""

    async def ping(self) -> None:
        """Check the backend is reachable.

        Raises:
            DependencyUnavailableError: it is not.
        """

    async def close(self) -> None:
        """Release connections; the memory is unusable afterwards."""
