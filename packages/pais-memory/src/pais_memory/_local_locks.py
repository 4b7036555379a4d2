"""In-process, per-key mutual exclusion with a bounded wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from pais_core import SessionBusyError

__all__ = ["KeyedLocks"]


class KeyedLocks:
    """One asyncio lock per key, dropped again once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str, *, timeout: float) -> AsyncGenerator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            try:
                async with asyncio.timeout(timeout):  # unlike `wait_for`, no extra task per acquire
                    await lock.acquire()
            except TimeoutError:
                raise SessionBusyError(
                    f"session {key!r} is busy with another request; retry when it has finished"
                ) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]
