"""Bursts: 300 chat requests at once to Redis-backed replicas, every one answered 200.

The model stand-in takes 0.5 s per answer, so all 300 runs are in flight together and each
needs Redis (session lock, history, the stored turn) at the same time: more than redis-py's
default pool of 100 connections, which answered the excess with a false 503 at once. With the
bounded pool (`MEMORY_REDIS_MAX_CONNECTIONS`) requests wait briefly for a connection instead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import read_events, redis_replica_env, replicas
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted

pytestmark = [pytest.mark.redis, pytest.mark.timeout(240)]

REQUESTS = 300
MODEL_SECONDS = 0.5


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(scripted(Reply(text="burst reply", delay=MODEL_SECONDS))) as server:
        yield server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def _burst(urls: list[str], sessions: list[str]) -> tuple[Counter[int], list[str]]:
    """Send one turn per entry of `sessions` at once, round-robin over `urls`; statuses and failures."""
    limits = httpx.Limits(max_connections=len(sessions) + 10, max_keepalive_connections=len(sessions))
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def turn(index: int, session_id: str) -> httpx.Response:
            body = {"messages": [{"role": "user", "content": f"turn {index}"}]}
            url = f"{urls[index % len(urls)]}/v1/chat/completions"
            return await client.post(url, json=body, headers={"X-Session-ID": session_id})

        answers = await asyncio.gather(*(turn(i, s) for i, s in enumerate(sessions)))
    statuses = Counter(answer.status_code for answer in answers)
    failures = [f"{answer.status_code} {answer.text[:200]}" for answer in answers if answer.status_code != 200]
    return statuses, failures


def test_300_simultaneous_requests_to_one_replica_are_all_answered(
    model: ScriptedModelServer, redis: RedisServer
) -> None:
    env = redis_replica_env(model.url, redis.url, lock_timeout=30)
    with replicas(1, env) as urls:
        statuses, failures = asyncio.run(_burst(urls, [f"one-{i}" for i in range(REQUESTS)]))
        print(f"one replica, {REQUESTS} at once: {dict(statuses)}")
        assert statuses == {200: REQUESTS}, failures[:5]
        sessions = httpx.get(f"{urls[0]}/memory/sessions", params={"limit": 1000}).json()
        assert sessions["total"] == REQUESTS


def test_300_simultaneous_turns_on_30_sessions_through_two_replicas_are_all_answered(
    model: ScriptedModelServer, redis: RedisServer
) -> None:
    sessions = [f"two-{i % 30}" for i in range(REQUESTS)]  # 10 concurrent turns per session, on both replicas
    env = redis_replica_env(model.url, redis.url, lock_timeout=60)
    with replicas(2, env) as urls:
        statuses, failures = asyncio.run(_burst(urls, sessions))
        print(f"two replicas, {REQUESTS} at once on 30 sessions: {dict(statuses)}")
        assert statuses == {200: REQUESTS}, failures[:5]

        async def stored() -> list[list[dict[str, object]]]:
            async with httpx.AsyncClient(timeout=30) as client:
                return [await read_events(client, urls[i % 2], f"two-{i}", page=100) for i in range(30)]

        for events in asyncio.run(stored()):
            assert [event["event_type"] for event in events] == ["user_message", "agent_response"] * 10
