"""Run logs (Redis Streams) and run leases shared by every replica."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from redis.asyncio import Redis

from pais_core import BadRequestError

from ._base import RunEvent
from ._redis_errors import redis_unavailable
from ._redis_lua import ACQUIRE_LEASE, APPEND_RUN_EVENTS, RELEASE_LEASE, RENEW_LEASE, TAKE_EXPIRED_LEASES

__all__ = ["RedisRuns"]

_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_FOLLOW_BLOCK_MS = 1000
"""How long one `XREAD BLOCK` waits; below the client's socket timeout, then the log is checked and read again."""
_BATCH = 100

_StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


class RedisRuns:
    """`XADD` appends, `XRANGE` reads missed events and `XREAD BLOCK` follows live ones.

    A running log expires like a session (`live_ttl_ms`, 0 = never), an ended one `retention_ms`
    after its final event. Leases are keys holding their holder, set and renewed by Lua
    compare-and-set; an index scored by expiry finds those that ran out.
    """

    def __init__(self, client: Redis, *, key_prefix: str, live_ttl_ms: int, retention_ms: int, where: str) -> None:
        self._client = client
        self._prefix = key_prefix
        self._live_ttl_ms = live_ttl_ms
        self._retention_ms = max(retention_ms, 1)
        self._where = where
        self._lease_index = f"{key_prefix}:idx:leases"
        self._append = client.register_script(APPEND_RUN_EVENTS)
        self._acquire = client.register_script(ACQUIRE_LEASE)
        self._renew = client.register_script(RENEW_LEASE)
        self._release = client.register_script(RELEASE_LEASE)
        self._take_expired = client.register_script(TAKE_EXPIRED_LEASES)

    def _log(self, run_id: str) -> str:
        return f"{self._prefix}:run:{run_id}:log"

    def _lease(self, run_id: str) -> str:
        return f"{self._prefix}:lease:{run_id}"

    def keys(self, run_id: str) -> tuple[str, str, str]:
        """The run's log, its lease and the lease index (for scripts that write them with other keys)."""
        return self._log(run_id), self._lease(run_id), self._lease_index

    def log_ttls(self) -> tuple[int, int]:
        """How long a running log lives (ms, 0 = always), and an ended one."""
        return self._live_ttl_ms, self._retention_ms

    async def append(self, run_id: str, events: Sequence[tuple[dict[str, Any], bool]]) -> list[str]:
        """Append the `(data, final)` events in one script call; their ids."""
        args: list[str | int] = [self._live_ttl_ms, self._retention_ms]
        for data, final in events:
            args += [json.dumps(data), int(final)]
        with redis_unavailable(self._where):
            ids = await self._append(keys=[self._log(run_id)], args=args)
        return [event_id.decode() for event_id in cast(list[bytes], ids)]

    async def read(self, run_id: str, *, after: str | None, limit: int) -> list[RunEvent]:
        start = "-" if after is None else f"({_stream_id(after)}"
        if limit <= 0:
            return []
        with redis_unavailable(self._where):
            entries = await self._client.xrange(self._log(run_id), start, "+", count=limit)
        return [_event(event_id, fields) for event_id, fields in cast(_StreamEntries, entries)]

    async def follow(self, run_id: str, *, after: str | None) -> AsyncIterator[RunEvent]:
        key = self._log(run_id)
        last = "0-0" if after is None else _stream_id(after)
        with redis_unavailable(self._where):
            exists = await self._client.exists(key)
        while exists:
            with redis_unavailable(self._where):
                reply = await self._client.xread({key: last}, count=_BATCH, block=_FOLLOW_BLOCK_MS)
            if not reply:
                with redis_unavailable(self._where):
                    exists = await self._client.exists(key)
                continue
            for event_id, fields in cast(list[tuple[bytes, _StreamEntries]], reply)[0][1]:
                event = _event(event_id, fields)
                last = event.id
                yield event
                if event.final:
                    return

    async def acquire_lease(self, run_id: str, holder: str, ttl_seconds: float) -> bool:
        return await self._lease_script(self._acquire, run_id, holder, _ms(ttl_seconds))

    async def renew_lease(self, run_id: str, holder: str, ttl_seconds: float) -> bool:
        return await self._lease_script(self._renew, run_id, holder, _ms(ttl_seconds))

    async def release_lease(self, run_id: str, holder: str) -> None:
        await self._lease_script(self._release, run_id, holder)

    async def take_expired_leases(self, limit: int) -> list[str]:
        if limit <= 0:
            return []
        with redis_unavailable(self._where):
            taken = await self._take_expired(keys=[self._lease_index], args=[f"{self._prefix}:lease:", limit])
        return [run_id.decode() for run_id in cast(list[bytes], taken)]

    async def _lease_script(self, script: Any, run_id: str, holder: str, *args: int) -> bool:
        with redis_unavailable(self._where):
            done = await script(keys=[self._lease(run_id), self._lease_index], args=[run_id, holder, *args])
        return bool(done)


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def _stream_id(event_id: str) -> str:
    if not _STREAM_ID.match(event_id):
        raise BadRequestError(f"invalid run event id {event_id!r}")
    return event_id


def _event(event_id: bytes, fields: dict[bytes, bytes]) -> RunEvent:
    return RunEvent(id=event_id.decode(), data=json.loads(fields[b"d"]), final=fields.get(b"f") == b"1")
