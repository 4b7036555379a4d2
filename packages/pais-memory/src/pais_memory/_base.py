"""The `Memory` contract every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent

__all__ = ["Memory", "Page", "RunEvent", "SessionWindow", "StoredTurn", "Summary", "TaskStep"]

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
class TaskStep:
    """What `Memory.put_task_step` did: stored the record (with the event ids and the task's push
    configs), or nothing because the stored record ended (`current`, that record)."""

    stored: bool
    event_ids: list[str] = field(default_factory=list[str])
    push_configs: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    current: dict[str, Any] | None = None


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


@dataclass(frozen=True)
class RunEvent:
    """One entry of a run log: its id (ordered within the log), its JSON data, and whether it ends the run."""

    id: str
    data: dict[str, Any]
    final: bool = False


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

    async def put_task_step(
        self,
        task_id: str,
        context_id: str,
        task: dict[str, Any],
        *,
        events: Sequence[tuple[dict[str, Any], bool]] = (),
        unless_state_in: Collection[str] = (),
        owner: str | None = None,
        lease_holder: str | None = None,
        lease_seconds: float = 0.0,
    ) -> TaskStep:
        """One step of a running task, atomic (one round trip where the backend allows).

        Stores the record like `put_task`, appends the `(data, final)` events to the run log named
        by the task id, takes `lease_holder`'s lease of the task for `lease_seconds` (0: gives it
        up), and returns the event ids and the task's push configs. When the stored record's state
        is in `unless_state_in`, does none of it and returns that record.
        """
        if not await self.put_task(task_id, context_id, task, unless_state_in=unless_state_in, owner=owner):
            return TaskStep(stored=False, current=await self.get_task(task_id))
        ids = await self.append_run_events(task_id, events) if events else []
        if lease_holder is not None:
            if lease_seconds > 0:
                await self.acquire_lease(task_id, lease_holder, ttl_seconds=lease_seconds)
            else:
                await self.release_lease(task_id, lease_holder)
        return TaskStep(stored=True, event_ids=ids, push_configs=await self.list_push_configs(task_id))

    @abstractmethod
    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        """Return a stored A2A task record, or None."""

    @abstractmethod
    async def list_tasks(
        self,
        *,
        context_id: str | None = None,
        owner: str | None = None,
        state: str | None = None,
        changed_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[dict[str, Any]]:
        """List task records, the latest status change first (ties: by task id, descending), from an index.

        All, those of one context, or (without `context_id`) those of one owner; with `state`, only
        those whose `status.state` is it; with `changed_since`, only those whose `status.timestamp`
        is at least it. `total` counts every match. The cost is that of the page, whatever the number
        of tasks: each scope and state has its own index, ordered by status timestamp (epoch ms).

        Raises:
            BadRequestError: `cursor` is not one a listing gave.
        """

    @abstractmethod
    async def put_push_config(self, task_id: str, config_id: str, config: dict[str, Any]) -> None:
        """Store a push-notification config of a task under `config_id` (replacing one stored there).

        Kept as long as the task's record; the record is opaque JSON (what it means is the server's business).
        """

    @abstractmethod
    async def get_push_config(self, task_id: str, config_id: str) -> dict[str, Any] | None:
        """One push-notification config of a task, or None."""

    @abstractmethod
    async def list_push_configs(self, task_id: str) -> list[dict[str, Any]]:
        """Every push-notification config of a task."""

    @abstractmethod
    async def delete_push_config(self, task_id: str, config_id: str) -> bool:
        """Remove one push-notification config of a task; whether it existed."""

    @abstractmethod
    async def mark_push_delivered(self, task_id: str, config_id: str, event_id: str) -> bool:
        """Record that event `event_id` was delivered to config `config_id`; whether this caller recorded it first.

        Atomic set-if-absent, across replicas sharing the backend; kept as long as the task's record.
        """

    @abstractmethod
    async def push_delivered(self, task_id: str, config_id: str, event_id: str) -> bool:
        """Whether `mark_push_delivered` recorded event `event_id` for config `config_id`."""

    @abstractmethod
    async def append_run_event(self, run_id: str, data: dict[str, Any], *, final: bool = False) -> str:
        """Append one event to the run's log (created by its first event) and return the event's id.

        Args:
            final: the event ends the run: followers stop after it, and the whole log is deleted
                the memory's run-log retention time later.
        """

    async def append_run_events(self, run_id: str, events: Sequence[tuple[dict[str, Any], bool]]) -> list[str]:
        """Append several `(data, final)` events in order (one round trip where the backend allows); their ids."""
        return [await self.append_run_event(run_id, data, final=final) for data, final in events]

    @abstractmethod
    async def read_run_events(self, run_id: str, *, after: str | None = None, limit: int = 100) -> list[RunEvent]:
        """Up to `limit` events of the run's log after the event id `after` (from the start when None).

        An unknown or deleted log reads as empty.

        Raises:
            BadRequestError: `after` is not an event id.
        """

    @abstractmethod
    def follow_run_events(self, run_id: str, *, after: str | None = None) -> AsyncIterator[RunEvent]:
        """Every event after `after` (from the start when None), waiting for new ones, up to the final one.

        What was missed comes first, then live events as they are appended, with no gap and no
        duplicate. Ends after the final event, or at once (or as soon as it is deleted) when the log
        does not exist.

        Raises:
            BadRequestError: `after` is not an event id.
        """

    @abstractmethod
    async def acquire_lease(self, run_id: str, holder: str, *, ttl_seconds: float) -> bool:
        """Take the run's lease for `holder` for `ttl_seconds`; False when another holder has it.

        The holder that already has it gets it renewed.
        """

    @abstractmethod
    async def renew_lease(self, run_id: str, holder: str, *, ttl_seconds: float) -> bool:
        """Extend `holder`'s lease to `ttl_seconds` from now; False when it is no longer theirs."""

    @abstractmethod
    async def release_lease(self, run_id: str, holder: str) -> None:
        """Give the lease up (no-op when another holder has it)."""

    @abstractmethod
    async def take_expired_leases(self, *, limit: int = 100) -> list[str]:
        """Run ids whose lease expired without being released, each returned to exactly one caller.

        Across replicas too: the replica that takes an expired run is the one to deal with it.
        """

    @abstractmethod
    async def claim(self, name: str, value: str) -> str:
        """Record `value` under `name` unless a value is recorded there already; return the recorded one.

        The first claim wins, atomically across replicas sharing the backend (Redis keeps it for the
        session TTL): compare the answer with `value` to know whether this caller won.
        """

    @abstractmethod
    async def put_paused_run(
        self, key: str, state: bytes, *, ttl_seconds: float, listed: bool = False, owner: str | None = None
    ) -> None:
        """Store the state of a paused run under `key` (replacing one stored there) for `ttl_seconds`.

        The state is opaque bytes: what a run is and when it resumes is the server's business.
        With `listed` (a run awaiting a person's approval), `list_paused_runs` lists it, under
        `owner` too, until it is taken, replaced unlisted, or expires.
        """

    @abstractmethod
    async def list_paused_runs(
        self, *, owner: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        """Keys of the listed paused runs that have not expired (of `owner` when given), soonest expiry first.

        Raises:
            BadRequestError: `cursor` is not one a listing gave.
        """

    @abstractmethod
    async def peek_paused_run(self, key: str) -> bytes | None:
        """The paused run stored under `key`, left in place; None when there is none (or it expired)."""

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
