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

    @abstractmethod
    async def put_paused_run(self, key: str, state: bytes, *, ttl_seconds: float) -> None:
        """Store the state of a paused run under `key` (replacing one stored there) for `ttl_seconds`.

        The state is opaque bytes: what a run is and when it resumes is the server's business.
        """

    @abstractmethod
    async def take_paused_run(self, key: str) -> bytes | None:
        """Remove and return the paused run stored under `key`; None when there is none (or it expired).

        Atomic, also across replicas: of concurrent takers exactly one gets the state, so a paused
        run resumes at most once.
        """

    @abstractmethod
    async def put_response(self, response_id: str, record: bytes) -> None:
        """Store a response record (OpenAI Responses API `store`); opaque bytes, kept like sessions."""

    @abstractmethod
    async def get_response(self, response_id: str) -> bytes | None:
        """Return a stored response record, or None."""

    async def ping(self) -> None:
        """Check the backend is reachable.

        Raises:
            DependencyUnavailableError: it is not.
        """

    async def close(self) -> None:
        """Release connections; the memory is unusable afterwards."""
