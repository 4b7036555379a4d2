"""Redis killed under load and restarted: clear 503s, `/ready` follows Redis, no acknowledged turn lost."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import echo_reply, echo_with_history, read_events, redis_replica_env, replicas
from pais_testing.scripted_model import ScriptedModelServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

SESSIONS, CONCURRENCY = 24, 12
CONTEXT_LIMIT = 6  # MEMORY_CONTEXT_LIMIT default


@dataclass
class Attempt:
    session_id: str
    prompt: str
    phase: str  # Redis "up", "down" or "back" when the request was sent
    status: int
    body: dict[str, Any]


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    server = ScriptedModelServer(echo_with_history)
    with server:
        yield server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer(durable=True) as server:
        yield server


async def readiness(client: httpx.AsyncClient, urls: list[str]) -> list[tuple[int, dict[str, Any]]]:
    responses = await asyncio.gather(*(client.get(f"{url}/ready") for url in urls))
    return [(response.status_code, response.json()) for response in responses]


async def wait_for_readiness(client: httpx.AsyncClient, urls: list[str], status: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        states = await readiness(client, urls)
        if all(code == status for code, _ in states):
            return [body for _, body in states]
        assert time.monotonic() < deadline, f"/ready did not reach {status}: {states}"
        await asyncio.sleep(0.1)


def stored_turns(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Pair each user message with the event that closes its turn; fails on a half-written turn."""
    turns: list[tuple[str, dict[str, Any]]] = []
    for opening, closing in zip(events[::2], events[1::2], strict=True):
        assert opening["event_type"] == "user_message", events
        assert closing["event_type"] in ("agent_response", "error"), events
        turns.append((opening["content"], closing))
    return turns


async def test_redis_killed_under_load_gives_clear_503s_and_loses_no_acknowledged_turn(
    redis: RedisServer, model: ScriptedModelServer
) -> None:
    # no trimming: a session may run hundreds of turns while another waits out a crashed lock lease
    env = redis_replica_env(model.url, redis.url, lock_timeout=2, MEMORY_MAX_SESSION_EVENTS="100000")
    rng = random.Random(7)
    attempts: list[Attempt] = []
    phase = "up"
    successes_after: dict[str, int] = {}
    gate = asyncio.Semaphore(CONCURRENCY)
    progress = asyncio.Event()  # set after every answered request

    async def until(condition: Callable[[], bool]) -> None:
        while not condition():
            progress.clear()
            await progress.wait()

    with replicas(2, env) as urls:
        async with httpx.AsyncClient(timeout=60) as client:

            async def drive(session_id: str, stop: asyncio.Event) -> None:
                turn = 0
                while not stop.is_set():
                    turn += 1
                    prompt = f"{session_id} turn {turn}"
                    async with gate:
                        sent_in = phase
                        response = await client.post(
                            f"{rng.choice(urls)}/v1/chat/completions",
                            json={"messages": [{"role": "user", "content": prompt}]},
                            headers={"X-Session-ID": session_id},
                        )
                    attempts.append(Attempt(session_id, prompt, sent_in, response.status_code, response.json()))
                    progress.set()
                    if sent_in == "back" and response.status_code == 200:
                        successes_after[session_id] = successes_after.get(session_id, 0) + 1
                    if response.status_code != 200:
                        await asyncio.sleep(0.05)

            stop = asyncio.Event()
            session_ids = [f"outage-{s:02d}" for s in range(SESSIONS)]
            drivers = asyncio.gather(*(drive(session_id, stop) for session_id in session_ids))
            try:
                await until(lambda: sum(a.status == 200 for a in attempts) >= 150)
                redis.kill()
                phase = "down"
                down = await wait_for_readiness(client, urls, 503)
                failures_while_down = len(attempts)
                await until(lambda: len(attempts) >= failures_while_down + 30)
                redis.start()
                phase = "back"
                await wait_for_readiness(client, urls, 200)
                async with asyncio.timeout(60):  # the 30 s lock lease, twice
                    await until(lambda: len(successes_after) == SESSIONS and min(successes_after.values()) >= 3)
            finally:
                stop.set()
                await drivers

            stored = {
                session_id: stored_turns(await read_events(client, rng.choice(urls), session_id, page=9))
                for session_id in session_ids
            }

    for body in down:
        assert body["status"] == "unavailable"
        assert body["failed"] == ["memory"]
        assert body["checks"]["memory"]["ok"] is False
        assert "Redis" in body["checks"]["memory"]["detail"]
        assert body["checks"]["model_api"] == {"ok": True}

    failures = [a for a in attempts if a.status != 200]
    assert any(a.status == 503 for a in failures)
    for failure in failures:
        if failure.status == 409 and failure.phase != "up":
            # Known gap: the lock of a request the crash cut off outlives the restart until its lease
            # ends; test_a_session_cut_off_by_a_redis_crash_is_served_once_redis_is_back pins it down.
            assert failure.body["error"]["code"] == "session_busy", failure
            continue
        assert failure.status == 503, failure
        assert failure.body["error"]["code"] == "dependency_unavailable", failure
        assert failure.body["error"]["type"] == "service_unavailable", failure
        assert "Redis" in failure.body["error"]["message"], failure

    for session_id, turns in stored.items():
        prompts = [prompt for prompt, _ in turns]
        assert len(prompts) == len(set(prompts)), session_id  # no turn stored twice
        closing = dict(turns)
        acknowledged = [a for a in attempts if a.session_id == session_id and a.status == 200]
        # every acknowledged turn is there, whole, in the order it was acknowledged
        assert [p for p in prompts if p in {a.prompt for a in acknowledged}] == [a.prompt for a in acknowledged]
        for attempt in acknowledged:
            assert closing[attempt.prompt]["event_type"] == "agent_response"
            assert closing[attempt.prompt]["content"] == attempt.body["choices"][0]["message"]["content"]
        # each stored answer saw exactly the answered turns stored before it as history
        answered: list[str] = []
        for prompt, event in turns:
            if event["event_type"] == "agent_response":
                assert event["content"] == echo_reply(prompt, answered[-CONTEXT_LIMIT:]), session_id
                answered.append(prompt)


async def test_a_session_cut_off_by_a_redis_crash_is_served_once_redis_is_back(
    redis: RedisServer, model: ScriptedModelServer
) -> None:
    env = redis_replica_env(model.url, redis.url, lock_timeout=1)
    with replicas(1, env) as (url,):
        async with httpx.AsyncClient(timeout=60) as client:

            async def chat(prompt: str) -> httpx.Response:
                body = {"messages": [{"role": "user", "content": prompt}]}
                return await client.post(f"{url}/v1/chat/completions", json=body, headers={"X-Session-ID": "cut"})

            assert (await chat("first")).status_code == 200
            cut_off = asyncio.create_task(chat("slow cut off"))
            deadline = time.monotonic() + 30
            while not any(call.last_user_text == "slow cut off" for call in model.calls):
                assert time.monotonic() < deadline, "the slow request never reached the model"
                await asyncio.sleep(0.02)
            redis.kill()  # while the run waits for the model, holding the session lock
            failed = await cut_off
            assert failed.status_code == 503, failed.text
            assert failed.json()["error"]["code"] == "dependency_unavailable"
            redis.start()
            await wait_for_readiness(client, [url], 200)

            after = await chat("after")
            events = await read_events(client, url, "cut", page=100)

    assert after.status_code == 200, after.text
    assert [(e["event_type"], e["content"]) for e in events] == [
        ("user_message", "first"),
        ("agent_response", echo_reply("first", [])),
        ("user_message", "after"),
        ("agent_response", echo_reply("after", ["first"])),
    ]
