"""Per-session mutual exclusion across replicas, held in Redis."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from pais_core import SessionBusyError

from ._redis_errors import redis_unavailable
from ._redis_lua import EXTEND_LOCK, RELEASE_LOCK

__all__ = ["RedisLocks"]

_JITTER = random.Random()
"""Backoff jitter from a generator of our own: a library must not draw from (and so shift) the global one."""

logger = logging.getLogger(__name__)

_FIRST_BACKOFF = 0.005
_MAX_BACKOFF = 0.1


class RedisLocks:
    """Leased locks: `SET NX PX` with a random token, renewed while held, released only by the owner.

    A holder that dies stops renewing, so its lock frees itself after at most `lease_seconds`.
    """

    def __init__(self, client: Redis, *, key_prefix: str, lease_seconds: float, where: str) -> None:
        self._client = client
        self._prefix = f"{key_prefix}:lock:"
        self._lease_ms = max(int(lease_seconds * 1000), 1)
        self._where = where
        self._release = client.register_script(RELEASE_LOCK)
        self._extend = client.register_script(EXTEND_LOCK)
        self._late_releases: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def hold(self, session_id: str, *, timeout: float) -> AsyncGenerator[None]:
        key = self._prefix + session_id
        token = secrets.token_hex(16)
        await self._acquire(key, token, timeout)
        renewer = asyncio.create_task(self._renew(key, token))
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            try:
                await self._release(keys=[key], args=[token])
            except RedisError as exc:  # the run's result stands; keep trying so a restarted Redis frees it
                logger.warning("could not release session lock %s (%s); retrying in the background", key, exc)
                task = asyncio.get_running_loop().create_task(self._release_later(key, token))
                self._late_releases.add(task)
                task.add_done_callback(self._late_releases.discard)

    async def close(self) -> None:
        """Stop retrying releases; unreleased locks expire with their lease."""
        for task in self._late_releases:
            task.cancel()
        await asyncio.gather(*self._late_releases, return_exceptions=True)

    async def _release_later(self, key: str, token: str) -> None:
        """Retry a failed release until it succeeds or the lease would have run out anyway.

        Safe at any time: the release script deletes the key only while it still holds our token.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lease_ms / 1000
        delay = 0.1
        while loop.time() < deadline:
            await asyncio.sleep(delay)
            try:
                await self._release(keys=[key], args=[token])
                return
            except RedisError:
                delay = min(delay * 2, 0.5)

    async def _acquire(self, key: str, token: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        backoff = _FIRST_BACKOFF
        while True:
            with redis_unavailable(self._where):
                if await self._client.set(key, token, nx=True, px=self._lease_ms):
                    return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SessionBusyError(
                    f"session {key.removeprefix(self._prefix)!r} is busy with another request; "
                    "retry when it has finished"
                )
            await asyncio.sleep(min(backoff * _JITTER.uniform(0.5, 1.0), remaining))
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                if not await self._extend(keys=[key], args=[token, self._lease_ms]):
                    logger.warning("session lock %s expired while held; another request may run concurrently", key)
                    return
            except RedisError as exc:
                logger.warning("could not renew session lock %s: %s", key, exc)
