"""Soak: two PAIS replicas sharing Redis memory under 64 concurrent clients, on loopback only.

Each client owns a few sessions and alternates replicas turn by turn (every session is served
by both replicas), mixing plain and streamed completions. Afterwards every session's events are
read back page by page and must hold every turn, once, in the order it was sent. The RSS of both
servers is sampled at start, after warm-up and at the end.

Duration and clients come from the environment: `SOAK_SECONDS` (default 20 in the test suite;
the performance report runs 60) and `SOAK_CLIENTS` (default 64). Results are printed and saved to
`bench/results/soak.json`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pais_testing.ports import free_port, wait_for_http
from pais_testing.process import ManagedProcess
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import read_events

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "soak.json"
SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "64"))
SESSIONS_PER_CLIENT = 3
WARMUP_TURNS = 2  # per client, before the "after warm-up" RSS sample
MAX_TURNS_PER_CLIENT = 10_000  # a bound besides time
REPLY = "soak reply: all good"
# Serve on 127.0.0.1 only (`python -m pais_server` binds every interface).
SERVE = "from pais_server import serve; serve(host='127.0.0.1')"

pytestmark = pytest.mark.redis


@dataclass
class Replica:
    url: str
    process: ManagedProcess

    def rss_mib(self) -> float:
        assert self.process.proc is not None
        status = Path(f"/proc/{self.process.proc.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert match, status
        return int(match.group(1)) / 1024


@dataclass
class Tally:
    """What the clients did: turns sent per session, failures, latencies."""

    sent: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    errors: list[str] = field(default_factory=list[str])
    latencies: list[float] = field(default_factory=list[float])


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    """Redis plus two `serve()` processes sharing it (same agent name, so the same key prefix)."""
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        env = {
            **os.environ,
            "AGENT_NAME": "soak-agent",
            "MEMORY_TYPE": "redis",
            "MEMORY_REDIS_URL": redis.url,
            "MEMORY_MAX_SESSIONS": "100000",
            "MEMORY_MAX_SESSION_EVENTS": "1000000",
            "DEBUG_MOCK_RESPONSES": json.dumps([REPLY]),
            "LOG_LEVEL": "WARNING",
        }
        started: list[Replica] = []
        for _ in range(2):
            port = free_port()
            process = ManagedProcess([sys.executable, "-c", SERVE], env={**env, "AGENT_PORT": str(port)})
            stack.enter_context(process)
            started.append(Replica(f"http://127.0.0.1:{port}", process))
        for replica in started:
            wait_for_http(f"{replica.url}/ready", timeout=60)
        yield started


async def _turn(client: httpx.AsyncClient, url: str, session_id: str, content: str, *, stream: bool) -> str:
    """One chat turn; returns the reply text or raises with what went wrong."""
    body = {"messages": [{"role": "user", "content": content}], "stream": stream}
    headers = {"X-Session-ID": session_id}
    if not stream:
        response = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
        if response.status_code != 200:
            raise AssertionError(f"{response.status_code} {response.text[:200]}")
        return response.json()["choices"][0]["message"]["content"]
    pieces: list[str] = []
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as response:
        if response.status_code != 200:
            raise AssertionError(f"{response.status_code} {(await response.aread())[:200]!r}")
        done = False
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line.removeprefix("data: ")
            if data == "[DONE]":
                done = True
                continue
            chunk = json.loads(data)
            if "error" in chunk:
                raise AssertionError(f"stream error: {chunk['error']}")
            for choice in chunk["choices"]:
                pieces.append(choice["delta"].get("content") or "")
        if not done:
            raise AssertionError("stream ended without [DONE]")
    return "".join(pieces)


async def _client(index: int, urls: list[str], tally: Tally, *, turns: int, deadline: float) -> None:
    """Round-robin over this client's sessions; consecutive turns go to alternating replicas."""
    sessions = [f"soak-{index}-{k}" for k in range(SESSIONS_PER_CLIENT)]
    for session_id in sessions:
        tally.sent.setdefault(session_id, [])
    async with httpx.AsyncClient(timeout=60) as client:
        n = 0
        while n < turns and time.monotonic() < deadline:
            session_id = sessions[n % len(sessions)]
            content = f"{session_id} turn {len(tally.sent[session_id])}"
            started = time.perf_counter()
            try:
                reply = await _turn(client, urls[n % len(urls)], session_id, content, stream=n % 4 == 3)
                if reply != REPLY:
                    raise AssertionError(f"unexpected reply {reply!r}")
            except (httpx.HTTPError, AssertionError, ValueError, KeyError) as exc:
                tally.errors.append(f"{session_id}: {type(exc).__name__}: {exc}")
            else:
                tally.sent[session_id].append(content)
                tally.latencies.append(time.perf_counter() - started)
            n += 1


async def _load(urls: list[str], tally: Tally, *, turns: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(_client(i, urls, tally, turns=turns, deadline=deadline) for i in range(CLIENTS)))
    return time.perf_counter() - started


def _problems(session_id: str, sent: list[str], events: list[dict[str, Any]]) -> list[str]:
    """Lost, duplicated or reordered turns of one session, compared with what the client sent."""
    problems: list[str] = []
    kinds = [event["event_type"] for event in events]
    if kinds != ["user_message", "agent_response"] * len(sent):
        problems.append(f"{session_id}: event types {kinds[:6]}... for {len(sent)} turns")
    stored = [event["content"] for event in events if event["event_type"] == "user_message"]
    if stored != sent:
        lost = len(set(sent) - set(stored))
        problems.append(f"{session_id}: {lost} of {len(sent)} turns lost" if lost else f"{session_id}: turns reordered")
    if len({event["event_id"] for event in events}) != len(events):
        problems.append(f"{session_id}: duplicate event ids")
    return problems


async def _verify(urls: list[str], tally: Tally) -> tuple[int, list[str]]:
    async with httpx.AsyncClient(timeout=60) as client:
        sessions = sorted(tally.sent)
        stored = await asyncio.gather(
            *(read_events(client, urls[i % len(urls)], s, page=50) for i, s in enumerate(sessions) if tally.sent[s])
        )
    checked = [s for s in sessions if tally.sent[s]]
    problems = [p for s, events in zip(checked, stored, strict=True) for p in _problems(s, tally.sent[s], events)]
    return sum(len(events) for events in stored), problems


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def test_two_replicas_and_redis_hold_64_clients_without_losing_or_reordering_events(
    replicas: list[Replica], capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [replica.url for replica in replicas]
    tally = Tally()
    rss_start = [replica.rss_mib() for replica in replicas]
    asyncio.run(_load(urls, tally, turns=WARMUP_TURNS, seconds=SECONDS))
    rss_warm = [replica.rss_mib() for replica in replicas]
    warm_turns = sum(len(sent) for sent in tally.sent.values())
    elapsed = asyncio.run(_load(urls, tally, turns=MAX_TURNS_PER_CLIENT, seconds=SECONDS))
    rss_end = [replica.rss_mib() for replica in replicas]
    turns = sum(len(sent) for sent in tally.sent.values())
    events, problems = asyncio.run(_verify(urls, tally))

    result = {
        "seconds": SECONDS,
        "clients": CLIENTS,
        "replicas": len(replicas),
        "sessions": len(tally.sent),
        "turns": turns,
        "turns_per_s": round((turns - warm_turns) / elapsed, 1),
        "p50_ms": round(_percentile(tally.latencies, 50), 2),
        "p99_ms": round(_percentile(tally.latencies, 99), 2),
        "errors": len(tally.errors),
        "events_checked": events,
        "event_problems": len(problems),
        "rss_mib": {
            f"replica-{i}": {"start": round(a, 1), "after_warmup": round(b, 1), "end": round(c, 1)}
            for i, (a, b, c) in enumerate(zip(rss_start, rss_warm, rss_end, strict=True))
        },
        "rss_growth_after_warmup_mib": [round(c - b, 1) for b, c in zip(rss_warm, rss_end, strict=True)],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    with capsys.disabled():
        print(f"\nsoak: {json.dumps(result)}")

    assert not tally.errors, tally.errors[:10]
    assert not problems, problems[:10]
    assert turns >= CLIENTS * WARMUP_TURNS
    assert events == 2 * turns
