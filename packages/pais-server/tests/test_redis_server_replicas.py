"""Two PAIS processes sharing one real Redis: sessions stay complete, unduplicated and in order."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import echo_reply, echo_with_history, read_events, redis_replica_env, replicas
from pais_testing.scripted_model import ScriptedModelServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

CONTEXT_LIMIT = 6
SESSIONS, TURNS, CONCURRENCY = 50, 20, 16


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    server = ScriptedModelServer(echo_with_history)
    with server:
        yield server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def replica_env(redis: RedisServer, model: ScriptedModelServer, *, lock_timeout: float) -> dict[str, str]:
    return redis_replica_env(model.url, redis.url, lock_timeout=lock_timeout, MEMORY_CONTEXT_LIMIT=str(CONTEXT_LIMIT))


@pytest.fixture(scope="module")
def pair(redis: RedisServer, model: ScriptedModelServer) -> Iterator[list[str]]:
    """Two replicas that wait up to 30 s for a busy session."""
    with replicas(2, replica_env(redis, model, lock_timeout=30)) as urls:
        yield urls


async def chat(client: httpx.AsyncClient, url: str, session_id: str, prompt: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": prompt}]}
    return await client.post(f"{url}/v1/chat/completions", json=body, headers={"X-Session-ID": session_id})


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def expected_events(prompts: list[str]) -> list[tuple[str, str]]:
    """The (event_type, content) pairs of `prompts` answered in this order by the echo model."""
    expected: list[tuple[str, str]] = []
    for n, prompt in enumerate(prompts):
        history = prompts[max(0, n - CONTEXT_LIMIT) : n]
        expected += [("user_message", prompt), ("agent_response", echo_reply(prompt, history))]
    return expected


def kinds_and_contents(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(event["event_type"], event["content"]) for event in events]


async def list_sessions(client: httpx.AsyncClient, url: str, *, page: int) -> list[str]:
    sessions: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(page), **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{url}/memory/sessions", params=params)
        response.raise_for_status()
        body = response.json()
        sessions.extend(body["sessions"])
        cursor = body["next_cursor"]
        if cursor is None:
            return sessions


async def test_50_sessions_x_20_turns_across_two_replicas_stay_complete_and_ordered(pair: list[str]) -> None:
    rng = random.Random(20240503)
    run = f"load-{rng.getrandbits(32):08x}"
    served: Counter[str] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def drive(session_id: str) -> None:
            prompts: list[str] = []
            for turn in range(1, TURNS + 1):
                prompt = f"{session_id} turn {turn}"
                url = rng.choice(pair)
                async with gate:
                    response = await chat(client, url, session_id, prompt)
                served[url] += 1
                # the turn saw exactly the earlier turns (up to MEMORY_CONTEXT_LIMIT), whichever replica wrote them
                assert answer(response) == echo_reply(prompt, prompts[-CONTEXT_LIMIT:]), (url, response.text)
                assert response.headers["x-session-id"] == session_id
                prompts.append(prompt)

        session_ids = [f"{run}-{s:02d}" for s in range(SESSIONS)]
        await asyncio.gather(*(drive(session_id) for session_id in session_ids))
        assert sum(served.values()) == SESSIONS * TURNS
        assert min(served.values()) > SESSIONS * TURNS // 4, served  # both replicas carried real load

        seen_ids: set[str] = set()
        for session_id in session_ids:
            # odd page size: pages end between a user message and its answer
            events = await read_events(client, rng.choice(pair), session_id, page=7)
            prompts = [f"{session_id} turn {turn}" for turn in range(1, TURNS + 1)]
            assert kinds_and_contents(events) == expected_events(prompts), session_id
            ids = {event["event_id"] for event in events}
            assert len(ids) == len(events)
            assert not ids & seen_ids
            seen_ids |= ids

        for url in pair:
            listed = await list_sessions(client, url, page=16)
            assert len(listed) == len(set(listed))
            assert set(session_ids) <= set(listed)


async def test_concurrent_requests_on_one_session_through_both_replicas_run_one_at_a_time(pair: list[str]) -> None:
    session_id = f"burst-{time.time_ns()}"
    prompts = [f"burst {i}" for i in range(10)]
    async with httpx.AsyncClient(timeout=60) as client:
        responses = await asyncio.gather(
            *(chat(client, pair[i % 2], session_id, prompt) for i, prompt in enumerate(prompts))
        )
        answers = {prompt: answer(response) for prompt, response in zip(prompts, responses, strict=True)}
        events = await read_events(client, pair[0], session_id, page=100)

    stored = [event["content"] for event in events if event["event_type"] == "user_message"]
    assert sorted(stored) == sorted(prompts)
    # Whole turns, one after another, each having seen exactly the turns stored before it: never interleaved.
    assert kinds_and_contents(events) == expected_events(stored)
    assert all(
        answers[prompt] == echo_reply(prompt, stored[max(0, n - CONTEXT_LIMIT) : n]) for n, prompt in enumerate(stored)
    )


async def test_a_busy_session_waits_on_one_replica_and_gets_409_past_the_lock_timeout_on_another(
    pair: list[str], redis: RedisServer, model: ScriptedModelServer
) -> None:
    session_id = f"busy-{time.time_ns()}"
    with replicas(1, replica_env(redis, model, lock_timeout=1)) as (impatient,):
        async with httpx.AsyncClient(timeout=60) as client:
            slow = asyncio.create_task(chat(client, pair[0], session_id, "slow first"))
            deadline = time.monotonic() + 30
            while not any(call.last_user_text == "slow first" for call in model.calls):  # it holds the session now
                assert time.monotonic() < deadline, "the slow request never reached the model"
                await asyncio.sleep(0.02)
            waiting = asyncio.create_task(chat(client, pair[1], session_id, "second"))
            started = time.monotonic()
            refused = await chat(client, impatient, session_id, "third")
            waited = time.monotonic() - started

            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["type"] == "conflict_error"
            assert error["code"] == "session_busy"
            assert session_id in error["message"]
            assert waited >= 1.0  # it waited SESSION_LOCK_TIMEOUT_SECONDS before giving up
            assert not slow.done()

            assert answer(await slow) == echo_reply("slow first", [])
            assert answer(await waiting) == echo_reply("second", ["slow first"])
            events = await read_events(client, impatient, session_id, page=100)

    assert kinds_and_contents(events) == expected_events(["slow first", "second"])
