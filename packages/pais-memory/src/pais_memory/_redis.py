"""`RedisMemory`: session memory shared by every replica of an agent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, TypedDict, Unpack, cast

try:
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError('RedisMemory needs the redis client: pip install "pais-memory[redis]"') from _exc

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent, NotFoundError

from . import _redis_lua
from ._base import Memory, Page, RunEvent, SessionWindow, StoredTurn, Summary, TaskStep, summary_event
from ._codec import decode_turn_list, decode_turns, encode_turn
from ._local_tasks import (
    epoch_ms,
    index_name,
    index_state,
    parse_offset,
    parse_score_cursor,
    status_score,
    task_state,
)
from ._redis_errors import redis_unavailable
from ._redis_lock import RedisLocks
from ._redis_runs import RedisRuns

__all__ = ["RedisMemory"]

_SESSION_KEYS = ":seq :events :turns :summary :owner"
_TASK_KEYS = ":rec :push :pushed :ix"


class _Options(TypedDict, total=False):
    key_prefix: str
    session_ttl_seconds: float
    max_sessions: int
    max_session_events: int
    max_tasks: int | None
    lock_lease_seconds: float
    run_log_retention_seconds: float


class RedisMemory(Memory):
    """Sessions, events and A2A task records in Redis, shared by all replicas.

    - Every write is one Lua script (one round trip, atomic): a turn is stored whole or not at all,
      and a session's events get consecutive sequence numbers, so replicas agree on one order.
    - Sessions expire `session_ttl_seconds` after their last write (sliding; 0 = never). At most
      `max_sessions` sessions are kept: a write that creates one more evicts the least recently
      written session. Each session keeps its last `max_session_events` events; a stored turn is
      replayed only while all events stored with it are kept, so history never splits a turn.
    - Task records expire like sessions; at most `max_tasks` (default `10 * max_sessions`) are kept.
    - Run logs are Redis streams (`XADD`, `XREAD BLOCK`): a running log expires like a session, an
      ended one `run_log_retention_seconds` after its final event. Run leases are keys holding their
      holder, set and renewed by compare-and-set scripts, indexed by expiry to find those that ran out.
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
        run_log_retention_seconds: float = 3600.0,
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
        self._task_step = client.register_script(_redis_lua.TASK_STEP)
        self._list = client.register_script(_redis_lua.LIST)
        self._task_page = client.register_script(_redis_lua.TASK_PAGE)
        self._put_paused = client.register_script(_redis_lua.PUT_PAUSED)
        self._list_paused = client.register_script(_redis_lua.LIST_PAUSED)
        self._take_paused = client.register_script(_redis_lua.TAKE_PAUSED)
        self._put_summary = client.register_script(_redis_lua.PUT_SUMMARY)
        self._claim = client.register_script(_redis_lua.CLAIM)
        self._locks = RedisLocks(client, key_prefix=key_prefix, lease_seconds=lock_lease_seconds, where=self._where)
        self._summary_locks = RedisLocks(
            client, key_prefix=f"{key_prefix}:summary", lease_seconds=lock_lease_seconds, where=self._where
        )
        self._runs = RedisRuns(
            client,
            key_prefix=key_prefix,
            live_ttl_ms=self._ttl_ms,
            retention_ms=int(run_log_retention_seconds * 1000),
            where=self._where,
        )

    @classmethod
    def from_url(
        cls, url: str, *, socket_timeout: float = 5.0, max_connections: int = 256, **options: Unpack[_Options]
    ) -> RedisMemory:
        """Connect to `url` (`redis://`, `rediss://` or `unix://`); connections open lazily.

        `options` are the constructor's. At most `max_connections` connections are open at once;
        a request beyond waits up to `socket_timeout` for a free one. A dropped connection is
        retried twice with a short backoff. Either failure ends the operation with
        `DependencyUnavailableError`.
        """
        pool = BlockingConnectionPool.from_url(  # pyright: ignore[reportUnknownMemberType]
            url,
            max_connections=max_connections,
            timeout=socket_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=min(socket_timeout, 2.0),
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        )
        return cls(Redis.from_pool(pool), **options)

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

    async def load_window(self, session_id: str, *, turns: int, since_seq: int = 0) -> SessionWindow:
        with redis_unavailable(self._where):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.get(self._session_key(session_id, ":summary"))
                if turns > 0:
                    pipe.lrange(self._session_key(session_id, ":turns"), -turns, -1)
                replies = await pipe.execute()
        raw_summary = cast(bytes | None, replies[0])
        stored = cast(list[bytes], replies[1]) if turns > 0 else []
        summary = None
        if raw_summary is not None:
            data = json.loads(raw_summary)
            summary = Summary(text=data["text"], until_seq=data["until_seq"], event_id=data["event_id"])
        split = [turn.split(b":", 1) for turn in stored]
        kept = [(int(seq), turn) for seq, turn in split if int(seq) >= since_seq]
        decoded = decode_turn_list([turn for _, turn in kept])
        return SessionWindow(
            summary=summary,
            turns=[StoredTurn(seq=seq, messages=messages) for (seq, _), messages in zip(kept, decoded, strict=True)],
        )

    async def put_summary(self, session_id: str, text: str, *, until_seq: int) -> MemoryEvent | None:
        events_key = self._session_key(session_id, ":events")
        with redis_unavailable(self._where):
            covered = cast(
                list[bytes],
                await self._client.zrevrangebyscore(  # pyright: ignore[reportUnknownMemberType]
                    events_key, f"({until_seq}", "-inf", start=0, num=1
                ),
            )
        through = MemoryEvent.model_validate_json(covered[0]).event_id if covered else None
        event = summary_event(text, until_seq, through)
        record = json.dumps({"text": text, "until_seq": until_seq, "event_id": event.event_id})
        keys = [self._session_key(session_id, suffix) for suffix in (":seq", ":events", ":turns", ":summary")]
        with redis_unavailable(self._where):
            stored = await self._put_summary(
                keys=keys, args=[self._max_events, until_seq, record, event.model_dump_json()]
            )
        return event if stored else None

    def summary_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        return self._summary_locks.hold(session_id, timeout=timeout)

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
            await self._append(
                keys=[*keys, *self._registry("sessions"), self._session_key(session_id, ":summary")], args=args
            )

    async def has_session(self, session_id: str) -> bool:
        with redis_unavailable(self._where):
            return bool(await self._client.exists(self._session_key(session_id, ":seq")))

    async def list_sessions(
        self, *, cursor: str | None = None, limit: int = 100, owner: str | None = None
    ) -> Page[str]:
        registry = self._registry("sessions")
        listed, probe = (registry[0], ":seq") if owner is None else (self._owned(owner, "sessions"), ":owner")
        total, rows = await self._list_live(listed, registry, f"{self._prefix}:s:", _SESSION_KEYS, probe, cursor, limit)
        if owner is not None:  # a session dropped and created again by someone else stays in the old owner's set
            rows = [row for row in rows if row[2].decode() == owner]
        return _page([member.decode() for member, _, _ in rows], total, rows, limit)

    def _owned(self, owner: str, kind: str) -> str:
        return f"{self._prefix}:own:{owner}:{kind}"

    async def claim_session(self, session_id: str, owner: str) -> str:
        keys = [self._session_key(session_id, ":owner"), self._owned(owner, "sessions"), self._registry("sessions")[2]]
        with redis_unavailable(self._where):
            current = await self._claim(keys=keys, args=[owner, session_id, self._ttl_ms])
        return current.decode() if isinstance(current, bytes) else str(current)

    async def session_owner(self, session_id: str) -> str | None:
        with redis_unavailable(self._where):
            raw = await self._client.get(self._session_key(session_id, ":owner"))
        return None if raw is None else cast(bytes, raw).decode()

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
        self,
        task_id: str,
        context_id: str,
        task: dict[str, Any],
        *,
        unless_state_in: Collection[str] = (),
        owner: str | None = None,
    ) -> bool:
        keys = [f"{self._prefix}:t:{task_id}:rec", *self._registry("tasks")]
        args = [task_id, self._ttl_ms, self._max_tasks, f"{self._prefix}:t:", _TASK_KEYS, json.dumps(task)]
        args += self._index_args(context_id, owner, task)
        with redis_unavailable(self._where):
            return bool(await self._put_task(keys=keys, args=[*args, *unless_state_in]))

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
        log, lease, lease_index = self._runs.keys(task_id)
        keys = [f"{self._prefix}:t:{task_id}:rec", *self._registry("tasks"), log, f"{self._prefix}:t:{task_id}:push"]
        keys += [lease, lease_index]
        args: list[str | int] = [task_id, self._ttl_ms, self._max_tasks, f"{self._prefix}:t:", _TASK_KEYS]
        args += [json.dumps(task), *self._runs.log_ttls(), lease_holder or "", int(lease_seconds * 1000)]
        args += self._index_args(context_id, owner, task)
        args += [len(unless_state_in), *unless_state_in]
        for data, final in events:
            args += [json.dumps(data), int(final)]
        with redis_unavailable(self._where):
            reply = cast(list[Any], await self._task_step(keys=keys, args=args))
        if not reply[0]:
            return TaskStep(stored=False, current=json.loads(reply[1]))
        return TaskStep(
            stored=True,
            event_ids=[event_id.decode() for event_id in cast(list[bytes], reply[1])],
            push_configs=[json.loads(raw) for raw in cast(list[bytes], reply[2])],
        )

    def _index_args(self, context_id: str, owner: str | None, task: dict[str, Any]) -> list[str | int]:
        """The task index arguments of PUT_TASK and TASK_STEP: prefix, context, owner, state, score."""
        state = index_state(task_state(task))
        return [f"{self._prefix}:tl:", context_id, owner or "", state, status_score(task)]

    async def claim(self, name: str, value: str) -> str:
        key = f"{self._prefix}:claim:{name}"
        with redis_unavailable(self._where):
            if await self._client.set(key, value, nx=True, px=self._ttl_ms or None):
                return value
            recorded = cast(bytes | None, await self._client.get(key))
        return value if recorded is None else recorded.decode()

    async def put_push_config(self, task_id: str, config_id: str, config: dict[str, Any]) -> None:
        key = f"{self._prefix}:t:{task_id}:push"
        with redis_unavailable(self._where):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, config_id, json.dumps(config))
                if self._ttl_ms:
                    pipe.pexpire(key, self._ttl_ms)
                await pipe.execute()

    async def get_push_config(self, task_id: str, config_id: str) -> dict[str, Any] | None:
        with redis_unavailable(self._where):
            raw = await cast(Awaitable[bytes | None], self._client.hget(f"{self._prefix}:t:{task_id}:push", config_id))
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    async def list_push_configs(self, task_id: str) -> list[dict[str, Any]]:
        with redis_unavailable(self._where):
            raw = await cast(Awaitable[list[bytes]], self._client.hvals(f"{self._prefix}:t:{task_id}:push"))
        return [cast(dict[str, Any], json.loads(value)) for value in raw]

    async def delete_push_config(self, task_id: str, config_id: str) -> bool:
        with redis_unavailable(self._where):
            removed = await self._client.hdel(f"{self._prefix}:t:{task_id}:push", config_id)
        return removed > 0

    async def push_delivered(self, task_id: str, config_id: str, event_id: str) -> bool:
        key = f"{self._prefix}:t:{task_id}:pushed"
        with redis_unavailable(self._where):
            return bool(await cast(Awaitable[int], self._client.sismember(key, f"{config_id}\n{event_id}")))

    async def mark_push_delivered(self, task_id: str, config_id: str, event_id: str) -> bool:
        key = f"{self._prefix}:t:{task_id}:pushed"
        with redis_unavailable(self._where):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, f"{config_id}\n{event_id}")
                if self._ttl_ms:
                    pipe.pexpire(key, self._ttl_ms)
                added, *_ = await pipe.execute()
        return bool(added)

    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        with redis_unavailable(self._where):
            raw = await self._client.get(f"{self._prefix}:t:{task_id}:rec")
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

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
        position = parse_score_cursor(cursor)
        name = index_name(context_id, owner, state)
        if name is None:
            return Page(items=[], total=0)
        limit = max(limit, 1)
        args: list[str | int] = [epoch_ms(changed_since, round_up=True), *(position or ("", "")), limit, self._ttl_ms]
        args += [f"{self._prefix}:t:", _TASK_KEYS, f"{self._prefix}:tl:"]
        with redis_unavailable(self._where):
            reply = cast(
                list[Any],
                await self._task_page(keys=[f"{self._prefix}:tl:{name}", *self._registry("tasks")], args=args),
            )
        flat = cast(list[bytes], reply[1:])
        rows = [(int(flat[i]), flat[i + 1].decode(), flat[i + 2]) for i in range(0, len(flat), 3)]
        items = [cast(dict[str, Any], json.loads(value)) for _, _, value in rows[:limit]]
        next_cursor = f"{rows[limit - 1][0]}:{rows[limit - 1][1]}" if len(rows) > limit else None
        return Page(items=items, total=int(reply[0]), next_cursor=next_cursor)

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

    async def append_run_event(self, run_id: str, data: dict[str, Any], *, final: bool = False) -> str:
        return (await self._runs.append(run_id, [(data, final)]))[0]

    async def append_run_events(self, run_id: str, events: Sequence[tuple[dict[str, Any], bool]]) -> list[str]:
        return await self._runs.append(run_id, events) if events else []

    async def read_run_events(self, run_id: str, *, after: str | None = None, limit: int = 100) -> list[RunEvent]:
        return await self._runs.read(run_id, after=after, limit=limit)

    def follow_run_events(self, run_id: str, *, after: str | None = None) -> AsyncIterator[RunEvent]:
        return self._runs.follow(run_id, after=after)

    async def acquire_lease(self, run_id: str, holder: str, *, ttl_seconds: float) -> bool:
        return await self._runs.acquire_lease(run_id, holder, ttl_seconds)

    async def renew_lease(self, run_id: str, holder: str, *, ttl_seconds: float) -> bool:
        return await self._runs.renew_lease(run_id, holder, ttl_seconds)

    async def release_lease(self, run_id: str, holder: str) -> None:
        await self._runs.release_lease(run_id, holder)

    async def take_expired_leases(self, *, limit: int = 100) -> list[str]:
        return await self._runs.take_expired_leases(limit)

    async def put_paused_run(
        self, key: str, state: bytes, *, ttl_seconds: float, listed: bool = False, owner: str | None = None
    ) -> None:
        listings = [f"{self._prefix}:pl:all", *([f"{self._prefix}:pl:o:{owner}"] if owner is not None else [])]
        keys = [f"{self._prefix}:paused:{key}", *(listings if listed else [])]
        with redis_unavailable(self._where):
            await self._put_paused(keys=keys, args=[key, state, max(int(ttl_seconds * 1000), 1)])

    async def list_paused_runs(
        self, *, owner: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        listing = f"{self._prefix}:pl:all" if owner is None else f"{self._prefix}:pl:o:{owner}"
        position = parse_score_cursor(cursor)
        limit = max(limit, 1)
        with redis_unavailable(self._where):
            reply = cast(list[Any], await self._list_paused(keys=[listing], args=[*(position or ("", "")), limit]))
        flat = cast(list[bytes], reply[1:])
        rows = [(int(flat[i]), flat[i + 1].decode()) for i in range(0, len(flat), 2)]
        next_cursor = f"{rows[limit - 1][0]}:{rows[limit - 1][1]}" if len(rows) > limit else None
        return Page(items=[key for _, key in rows[:limit]], total=int(reply[0]), next_cursor=next_cursor)

    async def peek_paused_run(self, key: str) -> bytes | None:
        with redis_unavailable(self._where):
            state = await self._client.get(f"{self._prefix}:paused:{key}")
        return cast(bytes | None, state)

    async def take_paused_run(self, key: str) -> bytes | None:
        with redis_unavailable(self._where):  # one script: of concurrent takers one gets it
            state = await self._take_paused(keys=[f"{self._prefix}:paused:{key}"], args=[key])
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
        await self._summary_locks.close()
        await self._client.aclose()


def _page(items: list[Any], total: int, rows: list[tuple[bytes, bytes, bytes]], limit: int) -> Page[Any]:
    """A page of the first `limit` rows; the cursor is the score just before the first row left out."""
    if len(rows) <= limit:
        return Page(items=items, total=total)
    next_cursor = str(int(rows[limit][1]) - 1)
    return Page(items=items[:limit], total=total, next_cursor=next_cursor)
