"""RedisMemory behaviour beyond the shared contract: TTL, prefixes, replicas, outages, locks' leases."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import cast

import pytest
from pais_testing.redis_server import RedisServer
from redis.asyncio import Redis

from pais_core import DependencyUnavailableError, MemoryEvent, SessionBusyError, Settings
from pais_memory import RedisMemory, memory_from_settings

pytestmark = pytest.mark.redis

MakeRedis = Callable[..., RedisMemory]


@pytest.fixture
async def make_redis(redis_server: RedisServer) -> AsyncIterator[MakeRedis]:
    """RedisMemory instances on the shared server; each test gets its own default key prefix."""
    created: list[RedisMemory] = []
    default_prefix = f"test-{uuid.uuid4().hex[:12]}"

    def make(**options: object) -> RedisMemory:
        options.setdefault("key_prefix", default_prefix)
        memory = RedisMemory.from_url(redis_server.url, **options)  # pyright: ignore[reportArgumentType]
        created.append(memory)
        return memory

    yield make
    for memory in created:
        await memory.close()


def said(text: str) -> list[MemoryEvent]:
    return [MemoryEvent(event_type="user_message", content=text)]


async def test_sessions_expire_after_the_sliding_ttl(make_redis: MakeRedis) -> None:
    memory = make_redis(session_ttl_seconds=0.6)
    await memory.append("s", said("one"))
    await memory.put_task("t", "s", {"id": "t"})
    await asyncio.sleep(0.4)
    await memory.append("s", said("two"))  # refreshes the session, not the task

    await asyncio.sleep(0.4)  # 0.8 s after the first write, 0.4 s after the last
    assert await memory.has_session("s")
    assert [e.content for e in (await memory.get_events("s")).items] == ["one", "two"]
    assert await memory.get_task("t") is None
    assert (await memory.list_tasks()).items == []

    await asyncio.sleep(0.5)
    assert not await memory.has_session("s")
    listing = await memory.list_sessions()
    assert (listing.items, listing.total) == ([], 0)


async def test_a_task_leaves_every_index_set_when_it_expires_or_its_record_vanishes(
    make_redis: MakeRedis, redis_server: RedisServer
) -> None:
    prefix = f"ix-{uuid.uuid4().hex[:8]}"
    memory = make_redis(session_ttl_seconds=0.5, key_prefix=prefix)
    stamp = {"state": "working", "timestamp": "2026-01-01T00:00:00Z"}
    await memory.put_task("gone", "ctx", {"id": "gone", "status": stamp}, owner="alice")
    await memory.put_task("expired", "ctx", {"id": "expired", "status": stamp}, owner="alice")
    raw = Redis.from_url(redis_server.url)
    try:
        index_sets = sorted(cast(bytes, key).decode() for key in await raw.keys(f"{prefix}:tl:*"))
        scopes = ("all", "c:ctx", "o:alice")
        assert index_sets == [f"{prefix}:tl:{state}:{scope}" for state in ("*", "working") for scope in scopes]
        await raw.delete(f"{prefix}:t:gone:rec")  # as if Redis expired it before the registry pruned it

        listed = await memory.list_tasks(owner="alice", state="working")
        assert ([t["id"] for t in listed.items], listed.total) == (["expired"], 1)
        assert [await raw.zscore(key, "gone") for key in index_sets] == [None] * len(index_sets)

        await asyncio.sleep(0.6)
        assert (await memory.list_tasks(context_id="ctx")).total == 0
        assert [await raw.zcard(key) for key in index_sets] == [0] * len(index_sets)
    finally:
        await raw.aclose()


async def test_key_prefixes_isolate_deployments(make_redis: MakeRedis) -> None:
    blue, green = make_redis(key_prefix="blue"), make_redis(key_prefix="green")
    await blue.append("s", said("blue"))
    await blue.put_task("t", "s", {"id": "t"})

    assert not await green.has_session("s")
    assert (await green.list_sessions()).items == []
    assert await green.get_task("t") is None
    async with blue.session_lock("s", timeout=1), green.session_lock("s", timeout=0.2):
        pass  # locks are per prefix too


async def test_two_replicas_writing_one_session_agree_on_one_order(make_redis: MakeRedis) -> None:
    replicas = [make_redis(max_session_events=10_000), make_redis(max_session_events=10_000)]
    writes_per_task, tasks_per_replica = 25, 8

    async def writer(replica: RedisMemory, name: str) -> None:
        for i in range(writes_per_task):
            await replica.append("shared", [*said(f"{name}:{i}"), *said(f"{name}:{i}:b")])

    await asyncio.gather(
        *(writer(replica, f"r{r}w{w}") for r, replica in enumerate(replicas) for w in range(tasks_per_replica))
    )

    seen = [[e.content for e in (await r.get_events("shared", limit=10_000)).items] for r in replicas]
    assert seen[0] == seen[1]
    contents = seen[0]
    assert len(contents) == len(set(contents)) == 2 * 2 * tasks_per_replica * writes_per_task
    for i in range(0, len(contents), 2):
        assert contents[i + 1] == f"{contents[i]}:b"  # each append stayed in one piece
    for r in range(2):
        for w in range(tasks_per_replica):
            mine = [c for c in contents[::2] if c.split(":")[0] == f"r{r}w{w}"]
            assert mine == [f"r{r}w{w}:{i}" for i in range(writes_per_task)]


async def test_a_retried_append_is_stored_once(make_redis: MakeRedis) -> None:
    memory = make_redis()
    events = [*said("once"), *said("twice?")]
    await memory.append("s", events)
    await memory.append("s", events)  # what a client retry after a lost reply sends

    assert [e.content for e in (await memory.get_events("s")).items] == ["once", "twice?"]


async def test_a_crashed_holders_lock_frees_itself(make_redis: MakeRedis, redis_server: RedisServer) -> None:
    memory = make_redis(key_prefix="crash")
    raw = Redis.from_url(redis_server.url)
    await raw.set("crash:lock:s", "someone-else", px=300)  # a holder that died without releasing
    try:
        started = time.monotonic()
        async with memory.session_lock("s", timeout=3):
            assert 0.2 < time.monotonic() - started < 2
    finally:
        await raw.aclose()


async def test_a_long_run_keeps_its_lock_past_the_lease(make_redis: MakeRedis) -> None:
    memory = make_redis(lock_lease_seconds=0.3)
    async with memory.session_lock("s", timeout=1):
        await asyncio.sleep(0.8)  # well past the lease: the holder renews it
        with pytest.raises(SessionBusyError):
            async with memory.session_lock("s", timeout=0.1):
                pass


async def test_redis_outage_is_reported_and_recovered_from() -> None:
    with RedisServer() as server:
        memory = RedisMemory.from_url(server.url, key_prefix="outage")
        try:
            await memory.append("s", said("before"))
            await memory.ping()

            server.kill()
            for operation in (
                memory.ping(),
                memory.append("s", said("during")),
                memory.load_history("s", turns=3),
                memory.get_events("s"),
                memory.list_sessions(),
                memory.get_task("t"),
            ):
                started = time.monotonic()
                with pytest.raises(DependencyUnavailableError) as caught:
                    await operation
                assert caught.value.dependency == "redis"
                assert f"127.0.0.1:{server.port}" in caught.value.message
                assert time.monotonic() - started < 5
            with pytest.raises(DependencyUnavailableError):
                async with memory.session_lock("s", timeout=1):
                    pass

            server.start()  # same port, empty dataset (no persistence)
            await memory.ping()
            await memory.append("s", said("after"))
            assert [e.content for e in (await memory.get_events("s")).items] == ["after"]
            async with memory.session_lock("s", timeout=1):
                pass
        finally:
            await memory.close()


async def test_redis_down_at_start_up_then_up() -> None:
    server = RedisServer()  # port chosen, nothing listening yet
    memory = RedisMemory.from_url(server.url)
    try:
        with pytest.raises(DependencyUnavailableError):
            await memory.ping()
        with server:
            await memory.ping()
            assert not await memory.has_session("s")
    finally:
        await memory.close()


async def test_more_concurrent_operations_than_connections_wait_for_a_free_one(make_redis: MakeRedis) -> None:
    memory = make_redis(max_connections=2)

    await asyncio.gather(*(memory.append(f"s{i}", said(f"turn {i}")) for i in range(60)))

    assert (await memory.list_sessions(limit=100)).total == 60
    assert [event.content for event in (await memory.get_events("s59")).items] == ["turn 59"]


async def test_settings_select_redis_memory(redis_server: RedisServer) -> None:
    settings = Settings.from_env(
        {
            "AGENT_NAME": "agent",
            "MEMORY_TYPE": "redis",
            "MEMORY_REDIS_URL": redis_server.url,
            "MEMORY_REDIS_KEY_PREFIX": "from-settings",
            "MEMORY_SESSION_TTL_SECONDS": "60",
        }
    )
    memory = memory_from_settings(settings)
    assert isinstance(memory, RedisMemory)
    raw = Redis.from_url(redis_server.url)
    try:
        await memory.append("s", said("hi"))
        ttl_ms = await raw.pttl("from-settings:s:s:events")
        assert 50_000 < ttl_ms <= 60_000
    finally:
        await memory.close()
        await raw.aclose()


async def test_a_client_that_decodes_responses_is_refused(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses=False"):
            RedisMemory(client)
    finally:
        await client.aclose()


def test_missing_redis_client_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import pais_memory\n"
        "try:\n    pais_memory.RedisMemory\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "pais-memory[redis]"' in output


def test_the_readme_example_runs(redis_server: RedisServer) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("redis://localhost:6379/0", redis_server.url)
    output = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, check=True).stdout
    assert [line.split(" ", 2)[-1] for line in output.splitlines()][::2] == [
        "user_message Hello!",
        "user_message What did I just say?",
    ]


async def test_a_run_log_is_followed_from_another_replica(make_redis: MakeRedis) -> None:
    writer, reader = make_redis(), make_redis()
    first = await writer.append_run_event("r", {"n": 0})

    async def follow() -> list[int]:
        return [event.data["n"] async for event in reader.follow_run_events("r", after=first)]

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.1)  # the follower is blocked in XREAD
    for n in range(1, 10):
        await writer.append_run_event("r", {"n": n}, final=n == 9)

    assert await asyncio.wait_for(follower, timeout=10) == list(range(1, 10))


async def test_an_expired_lease_goes_to_exactly_one_replica(make_redis: MakeRedis) -> None:
    replicas = [make_redis() for _ in range(3)]
    for n in range(10):
        assert await replicas[0].acquire_lease(f"run-{n}", "dead-replica", ttl_seconds=0.1)
    await asyncio.sleep(0.3)

    taken = await asyncio.gather(*(replica.take_expired_leases(limit=4) for replica in replicas))

    flat = [run_id for batch in taken for run_id in batch]
    flat += await replicas[0].take_expired_leases()
    assert sorted(flat) == sorted(f"run-{n}" for n in range(10))


async def test_one_claim_wins_across_replicas_racing_for_it(make_redis: MakeRedis) -> None:
    replicas = [make_redis() for _ in range(4)]
    answers = await asyncio.gather(*(r.claim("startup-goal", f"replica-{i}") for i, r in enumerate(replicas)))
    assert len(set(answers)) == 1
    assert answers[0] in {f"replica-{i}" for i in range(4)}
    assert await make_redis(key_prefix="other-agent").claim("startup-goal", "mine") == "mine"
