"""`RedisMemory`: session memory shared by every replica of an agent."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypedDict, Unpack, cast

try:
    from redis.asyncio import Redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError('RedisMemory needs the redis client: pip install "pais-memory[redis]"') from _exc

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent, NotFoundError

from . import _redis_lua
from ._base import Memory, Page
from ._codec import decode_turns, encode_turn
from ._local_tasks import parse_offset
from ._redis_errors import redis_unavailable
from ._redis_lock import RedisLocks

__all__ = ["RedisMemory"]

_SESSION_KEYS = ":seq :events :turns"
_TASK_KEYS = ":rec"


class _Options(TypedDict, total=False):
    key_prefix: str
    session_ttl_seconds: float
    max_sessions: int
    max_session_events: int
    max_tasks: int | None
    lock_lease_seconds: float


class RedisMemory(Memory):
    """Sessions, events and A2A task records in Redis, shared by all replicas.

    - Every write is one Lua script (one round trip, atomic): a turn is stored whole or not at all,
      and a session's events get consecutive sequence numbers, so replicas agree on one order.
    - Sessions expire `session_ttl_seconds` after their last write (sliding; 0 = never). At most
      `max_sessions` sessions are kept: a write that creates one more evicts the least recently
      written session. Each session keeps its last `max_session_events` events; a stored turn is
      replayed only while all events stored with it are kept, so history never splits a turn.
    - Task records expire like sessions; at most `max_tasks` (default `10 * max_sessions`) are kept.
    - `session_lock` serialises requests on one session across replicas with a bounded wait.
    - Redis being unreachable raises `DependencyUnavailableError("redis", ...)`; the client
      reconnects by itself once Redis is back.

    Needs a standalone Redis (or a Sentinel-managed primary), not Redis Cluster.
    """

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = "pais",
        session_ttl_seconds: float = 7 * 24 * 3600,
        max_sessions: int = 1000,
        max_session_events: int = 500,
        max_tasks: int | None = None,
        lock_lease_seconds: float = 30.0,
    ) -> None:
        """Use an existing `redis.asyncio.Redis` client (it must keep `decode_responses=False`)."""
        if client.get_encoder().decode_responses:
            raise ValueError("RedisMemory needs a Redis client with decode_responses=False")
        self._client = client
        self._prefix = key_prefix
        self._ttl_ms = max(int(session_ttl_seconds * 1000), 0)
        self._max_sessions = max_sessions
        self._max_events = max_session_events
        self._max_tasks = max_sessions * 10 if max_tasks is None else max_tasks
        kwargs = client.get_connection_kwargs()
        self._where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self._append = client.register_script(_redis_lua.APPEND)
        self._put_task = client.register_script(_redis_lua.PUT_TASK)
        self._list = client.register_script(_redis_lua.LIST)
        self._locks = RedisLocks(client, key_prefix=key_prefix, lease_seconds=lock_lease_seconds, where=self._where)

    @classmethod
    def from_url(cls, url: str, *, socket_timeout: float = 5.0, **options: Unpack[_Options]) -> RedisMemory:
        """Connect to `url` (`redis://`, `rediss://` or `unix://`); connections open lazily.

        `options` are the constructor's. A dropped connection is retried twice with a short
        backoff, then the operation fails with `DependencyUnavailableError`.
        """
        client = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=min(socket_timeout, 2.0),
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        )
        return cls(client, **options)

    def _session_key(self, session_id: str, suffix: str) -> str:
        return f"{self._prefix}:s:{session_id}{suffix}"

    def _registry(self, kind: str) -> list[str]:
        return [f"{self._prefix}:idx:{kind}:{part}" for part in ("order", "activity", "counter")]

    async def load_history(self, session_id: str, *, turns: int) -> list[ModelMessage]:
        if turns <= 0:
            return []
        with redis_unavailable(self._where):
            stored = await self._client.lrange(self._session_key(session_id, ":turns"), -turns, -1)
        return decode_turns(turn.split(b":", 1)[1] for turn in cast(list[bytes], stored))

    async def append(
        self, session_id: str, events: Sequence[MemoryEvent], messages: Sequence[ModelMessage] = ()
    ) -> None:
        keys = [self._session_key(session_id, suffix) for suffix in (":seq", ":events", ":turns")]
        args: list[str | bytes | int] = [
            session_id,
            self._ttl_ms,
            self._max_events,
            self._max_sessions,
            f"{self._prefix}:s:",
            _SESSION_KEYS,
            encode_turn(messages) if messages else b"",
            *(event.model_dump_json() for event in events),
        ]
        with redis_unavailable(self._where):
            await self._append(keys=[*keys, *self._registry("sessions")], args=args)

    async def has_session(self, session_id: str) -> bool:
        with redis_unavailable(self._where):
            return bool(await self._client.exists(self._session_key(session_id, ":seq")))

    async def list_sessions(self, *, cursor: str | None = None, limit: int = 100) -> Page[str]:
        registry = self._registry("sessions")
        total, rows = await self._list_live(
            registry[0], registry, f"{self._prefix}:s:", _SESSION_KEYS, ":seq", cursor, limit
        )
        return _page([member.decode() for member, _, _ in rows], total, rows, limit)

    async def get_events(self, session_id: str, *, cursor: str | None = None, limit: int = 100) -> Page[MemoryEvent]:
        after = parse_offset(cursor)
        events_key = self._session_key(session_id, ":events")
        with redis_unavailable(self._where):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.exists(self._session_key(session_id, ":seq"))
                pipe.zcard(events_key)
                pipe.zrangebyscore(  # pyright: ignore[reportUnknownMemberType]
                    events_key, after, "+inf", start=0, num=limit + 1, withscores=True
                )
                exists, total, stored = cast(tuple[int, int, list[tuple[bytes, float]]], await pipe.execute())
        if not exists:
            raise NotFoundError(f"session {session_id!r} not found")
        items = [MemoryEvent.model_validate_json(raw) for raw, _ in stored[:limit]]
        next_cursor = str(int(stored[limit][1])) if len(stored) > limit else None
        return Page(items=items, total=total, next_cursor=next_cursor)

    def session_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(session_id, timeout=timeout)

    async def put_task(
        self, task_id: str, context_id: str, task: dict[str, Any], *, unless_state_in: Collection[str] = ()
    ) -> bool:
        keys = [f"{self._prefix}:t:{task_id}:rec", f"{self._prefix}:ctx:{context_id}", *self._registry("tasks")]
        args = [task_id, self._ttl_ms, self._max_tasks, f"{self._prefix}:t:", _TASK_KEYS, json.dumps(task)]
        with redis_unavailable(self._where):
            return bool(await self._put_task(keys=keys, args=[*args, *unless_state_in]))

    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        with redis_unavailable(self._where):
            raw = await self._client.get(f"{self._prefix}:t:{task_id}:rec")
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    async def list_tasks(
        self, *, context_id: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[dict[str, Any]]:
        registry = self._registry("tasks")
        listed = registry[0] if context_id is None else f"{self._prefix}:ctx:{context_id}"
        total, rows = await self._list_live(listed, registry, f"{self._prefix}:t:", _TASK_KEYS, ":rec", cursor, limit)
        return _page([cast(dict[str, Any], json.loads(value)) for _, _, value in rows], total, rows, limit)

    async def _list_live(
        self,
        listed: str,
        registry: list[str],
        prefix: str,
        suffixes: str,
        probe: str,
        cursor: str | None,
        limit: int,
    ) -> tuple[int, list[tuple[bytes, bytes, bytes]]]:
        """Members of `listed` after the cursor whose `probe` key still exists, with its value."""
        args = [parse_offset(cursor), max(limit, 0), self._ttl_ms, prefix, suffixes, probe]
        with redis_unavailable(self._where):
            reply = cast(list[Any], await self._list(keys=[listed, *registry], args=args))
        flat = cast(list[bytes], reply[1:])
        rows = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
        return int(reply[0]), rows

    async def put_paused_run(self, key: str, state: bytes, *, ttl_seconds: float) -> None:
        with redis_unavailable(self._where):
            await self._client.set(f"{self._prefix}:paused:{key}", state, px=max(int(ttl_seconds * 1000), 1))

    async def take_paused_run(self, key: str) -> bytes | None:
        with redis_unavailable(self._where):
            state = await self._client.getdel(f"{self._prefix}:paused:{key}")  # one atomic command: one taker wins
        return cast(bytes | None, state)

    async def put_response(self, response_id: str, record: bytes) -> None:
        with redis_unavailable(self._where):
            await self._client.set(f"{self._prefix}:r:{response_id}", record, px=self._ttl_ms or None)

    async def get_response(self, response_id: str) -> bytes | None:
        with redis_unavailable(self._where):
            record = await self._client.get(f"{self._prefix}:r:{response_id}")
        return cast(bytes | None, record)

    async def ping(self) -> None:
        with redis_unavailable(self._where):
            await self._client.ping()  # pyright: ignore[reportUnknownMemberType]

    async def close(self) -> None:
        await self._locks.close()
        await self._client.aclose()


def _page(items: list[Any], total: int, rows: list[tuple[bytes, bytes, bytes]], limit: int) -> Page[Any]:
    """A page of the first `limit` rows; the cursor is the score just before the first row left out."""
    if len(rows) <= limit:
        return Page(items=items, total=total)
    next_cursor = str(int(rows[limit][1]) - 1)
    return Page(items=items[:limit], total=total, next_cursor=next_cursor)
