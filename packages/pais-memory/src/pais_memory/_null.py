"""`NullMemory`: stateless operation; every request stands alone."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent, NotFoundError

from ._base import Memory, Page, SessionWindow
from ._local_paused import InProcessPausedRuns, InProcessResponses
from ._local_runs import InProcessRuns
from ._local_tasks import InProcessTasks

__all__ = ["NullMemory"]


class NullMemory(InProcessTasks, InProcessRuns, InProcessPausedRuns, InProcessResponses, Memory):
    """Remembers no conversation; A2A task records, run logs, leases, paused runs and stored responses are
    still kept in-process."""

    def __init__(self, *, max_tasks: int = 10_000, run_log_retention_seconds: float = 3600.0) -> None:
        self._init_tasks(max_tasks)
        self._init_runs(max_tasks, run_log_retention_seconds)
        self._init_paused(max_tasks)
        self._init_responses(max_tasks)

    async def load_history(self, session_id: str, *, turns: int) -> list[ModelMessage]:
        return []

    async def load_window(self, session_id: str, *, turns: int, since_seq: int = 0) -> SessionWindow:
        return SessionWindow(summary=None, turns=[])

    async def put_summary(self, session_id: str, text: str, *, until_seq: int) -> MemoryEvent | None:
        return None

    def summary_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        return _no_lock()

    async def append(
        self, session_id: str, events: Sequence[MemoryEvent], messages: Sequence[ModelMessage] = ()
    ) -> None:
        return None

    async def has_session(self, session_id: str) -> bool:
        return False

    async def list_sessions(
        self, *, cursor: str | None = None, limit: int = 100, owner: str | None = None
    ) -> Page[str]:
        return Page(items=[], total=0)

    async def claim_session(self, session_id: str, owner: str) -> str:
        return owner  # nothing is kept, so nothing can be read back by anyone

    async def session_owner(self, session_id: str) -> str | None:
        return None

    async def get_events(self, session_id: str, *, cursor: str | None = None, limit: int = 100) -> Page[MemoryEvent]:
        raise NotFoundError(f"session {session_id!r} not found (memory is disabled)")

    def session_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        return _no_lock()


@asynccontextmanager
async def _no_lock() -> AsyncGenerator[None]:
    yield
