"""Run leases: the replica running a run holds its lease; a survivor ends runs whose lease ran out."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager

from pais_core import PaisError
from pais_memory import Memory

__all__ = ["LeaseSweeper", "Leases"]

logger = logging.getLogger("pais_server.runs")


class Leases:
    """Leases on runs held by this replica, each renewed every third of `ttl_seconds` while its run goes on."""

    def __init__(self, memory: Memory, *, ttl_seconds: float) -> None:
        self.memory = memory
        self.ttl_seconds = ttl_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @asynccontextmanager
    async def hold(self, run_id: str) -> AsyncGenerator[None]:
        """Hold the run's lease for the block; a backend outage is logged, never raised into the run."""
        try:
            await self.memory.acquire_lease(run_id, self.holder, ttl_seconds=self.ttl_seconds)
        except PaisError as exc:
            logger.warning("could not take the lease of run %s: %s", run_id, exc.message)
        renewer = asyncio.get_running_loop().create_task(self._renew(run_id), name=f"lease-{run_id}")
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            try:
                await self.memory.release_lease(run_id, self.holder)
            except PaisError as exc:  # it expires by itself; the run's stored end keeps the sweeper away
                logger.warning("could not release the lease of run %s: %s", run_id, exc.message)

    async def _renew(self, run_id: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            try:
                if not await self.memory.renew_lease(run_id, self.holder, ttl_seconds=self.ttl_seconds):
                    # lost (expired while Redis was out of reach): take it again, unless a sweeper has
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
