"""Run leases: the replica running a run holds its lease; a survivor ends runs whose lease ran out."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from pais_core import PaisError
from pais_memory import Memory

__all__ = ["LeaseSweeper", "Leases"]

logger = logging.getLogger("pais_server.runs")


class Leases:
    """Leases on runs held by this replica, all renewed every third of `ttl_seconds` by one background task.

    The lease itself is taken and given up with the run's own writes (`Memory.put_task_step`); `keep`
    and `drop` only say which leases to renew, so a run that ends before the first renewal costs
    nothing more. A backend outage is logged, never raised into a run.
    """

    def __init__(self, memory: Memory, *, ttl_seconds: float) -> None:
        self.memory = memory
        self.ttl_seconds = ttl_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None

    def keep(self, run_id: str) -> None:
        """Renew the run's lease until `drop`."""
        self._held.add(run_id)
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="lease-renewer")

    def drop(self, run_id: str) -> None:
        """Stop renewing the run's lease."""
        self._held.discard(run_id)

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            for run_id in list(self._held):
                try:
                    renewed = await self.memory.renew_lease(run_id, self.holder, ttl_seconds=self.ttl_seconds)
                    if not renewed and run_id in self._held:
                        # lost (expired while the backend was out of reach): take it again, unless a sweeper has
                        await self.memory.acquire_lease(run_id, self.holder, ttl_seconds=self.ttl_seconds)
                except PaisError as exc:
                    logger.warning("could not renew the lease of run %s: %s", run_id, exc.message)


class LeaseSweeper:
    """Every `interval` seconds, takes the runs whose lease expired and hands each to `abandoned`.

    Each expired run goes to exactly one replica (`Memory.take_expired_leases`).
    """

    def __init__(self, memory: Memory, abandoned: Callable[[str], Awaitable[None]], *, interval: float) -> None:
        self._memory = memory
        self._abandoned = abandoned
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sweep(), name="lease-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                expired = await self._memory.take_expired_leases()
            except PaisError as exc:
                logger.warning("could not look for runs left behind: %s", exc.message)
                continue
            for run_id in expired:
                try:
                    await self._abandoned(run_id)
                except Exception:  # one bad record must not stop the sweeper
                    logger.exception("could not end run %s left behind by its replica", run_id)
