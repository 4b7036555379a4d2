"""Writing a run's events to its run log in the memory backend, in order, off the run's path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pais_core import PaisError
from pais_memory import Memory

__all__ = ["RunLogWriter"]

logger = logging.getLogger("pais_server.runs")


class RunLogWriter:
    """Appends a run's events to `memory`'s log for `run_id` in the order they were emitted.

    `emit` never waits: a background task appends what is queued, everything queued so far in one
    `append_run_events` call (one round trip with Redis however fast the run emits), so the run is
    not slowed by the backend. A write that fails is logged and skipped (the run goes on; a
    follower then misses those events). `close` waits until everything emitted was written.
    `written` is called with each event's id and data once it is in the log.
    """

    def __init__(
        self, memory: Memory, run_id: str, *, written: Callable[[str, dict[str, Any]], None] | None = None
    ) -> None:
        self._memory = memory
        self.run_id = run_id
        self._written = written
        self._queue: asyncio.Queue[tuple[dict[str, Any], bool] | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def emit(self, data: dict[str, Any], *, final: bool = False) -> None:
        """Queue one event (`final` ends the run's log)."""
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(), name=f"run-log-{self.run_id}")
        self._queue.put_nowait((data, final))

    async def close(self) -> None:
        """Wait until every emitted event was written, then stop."""
        if self._writer is None:
            return
        self._queue.put_nowait(None)
        await asyncio.shield(self._writer)

    async def _write(self) -> None:
        closing = False
        while not closing:
            batch: list[tuple[dict[str, Any], bool]] = []
            item = await self._queue.get()
            while item is not None:
                batch.append(item)
                if self._queue.empty():
                    break
                item = self._queue.get_nowait()
            closing = item is None
            if not batch:
                continue
            try:
                ids = await self._memory.append_run_events(self.run_id, batch)
            except PaisError as exc:
                logger.warning(
                    "could not write %d events of run %s to its log: %s", len(batch), self.run_id, exc.message
                )
                continue
            if self._written is not None:
                for event_id, (data, _) in zip(ids, batch, strict=True):
                    self._written(event_id, data)
