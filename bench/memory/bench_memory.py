"""RedisMemory cost per chat turn, against raw redis-py pipelined writes of the same bytes.

Run: `python bench/memory/bench_memory.py` (starts its own redis-server on a free loopback port).

A *chat turn* is what the server does per request: take the session lock, load the history
(MEMORY_CONTEXT_LIMIT turns), append the turn's events and native messages, release the lock.

Measured in one run:
- round trips per chat turn (a counting connection) and commands Redis executed per chat turn
  (`INFO commandstats` deltas, including those run inside Lua), for sessions holding 10 and 1,000
  events: neither may grow with history;
- chat turns per second for 1 session (sequential) and for 100 sessions (concurrent), next to
  the baseline: one pipelined RPUSH + ZADD per turn writing the same bytes, no lock, no read
  (best of 3 runs each). Both sides build and encode the same events and messages per turn.

Prints a table and merges the results into bench/results/memory.json (bench_server_memory.py
measures the same through the server).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from pais_core import MemoryEvent
from pais_memory import RedisMemory
from pais_memory._codec import encode_turn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from _results import merge_results  # noqa: E402
from pais_testing.redis_server import RedisServer  # noqa: E402

CONTEXT_TURNS = 6  # MEMORY_CONTEXT_LIMIT default
HISTORIES = (10, 1_000)  # events already in the session
COUNTED_TURNS = 20
SINGLE_SESSION_TURNS = 400
MANY_SESSIONS, TURNS_PER_SESSION = 100, 5
REPEATS = 3  # best of, to damp noise from other processes


class CountingConnection(Connection):
    """A connection that counts requests written to the socket (a pipeline is one)."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


def chat_turn(i: int) -> tuple[list[MemoryEvent], list[ModelMessage]]:
    question, answer = f"question {i}: " + "q" * 120, f"answer {i}: " + "a" * 240
    events = [
        MemoryEvent(event_type="user_message", content=question),
        MemoryEvent(event_type="agent_response", content=answer),
    ]
    messages: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart(content=question)]),
        ModelResponse(parts=[TextPart(content=answer)]),
    ]
    return events, messages


async def memory_turn(memory: RedisMemory, session_id: str, i: int) -> None:
    events, messages = chat_turn(i)
    async with memory.session_lock(session_id, timeout=30):
        await memory.load_history(session_id, turns=CONTEXT_TURNS)
        await memory.append(session_id, events, messages)


async def baseline_turn(client: Redis, session_id: str, i: int) -> None:
    events, messages = chat_turn(i)
    pipe = client.pipeline(transaction=False)
    pipe.rpush(f"raw:{session_id}:turns", encode_turn(messages))
    pipe.zadd(f"raw:{session_id}:events", {e.model_dump_json(): i * 2 + n for n, e in enumerate(events)})
    await pipe.execute()


async def commands_executed(client: Redis) -> int:
    stats: dict[str, dict[str, int]] = await client.info("commandstats")
    return sum(value["calls"] for key, value in stats.items() if key not in ("cmdstat_info",))


async def per_turn_cost(memory: RedisMemory, admin: Redis, history_events: int) -> dict[str, float]:
    session_id = f"history-{history_events}"
    for i in range(history_events // 2):
        events, messages = chat_turn(i)
        await memory.append(session_id, events, messages)
    await memory_turn(memory, session_id, -1)  # warm up connections and scripts
    sent_before, commands_before = CountingConnection.sent, await commands_executed(admin)
    for i in range(COUNTED_TURNS):
        await memory_turn(memory, session_id, i)
    round_trips = (CountingConnection.sent - sent_before) / COUNTED_TURNS
    commands = (await commands_executed(admin) - commands_before) / COUNTED_TURNS
    return {"history_events": history_events, "round_trips_per_turn": round_trips, "commands_per_turn": commands}


async def turns_per_second(run_turn: Any, sessions: int, turns_each: int) -> float:
    async def session(s: int) -> None:
        for i in range(turns_each):
            await run_turn(f"rate-{sessions}-{s}", i)

    started = time.perf_counter()
    await asyncio.gather(*(session(s) for s in range(sessions)))
    return sessions * turns_each / (time.perf_counter() - started)


async def main() -> dict[str, Any]:
    with RedisServer() as server:
        pool = ConnectionPool(connection_class=CountingConnection, host="127.0.0.1", port=server.port)
        memory = RedisMemory(Redis(connection_pool=pool), key_prefix="bench", max_session_events=2_000)
        admin = Redis(host="127.0.0.1", port=server.port)
        try:
            costs = [await per_turn_cost(memory, admin, events) for events in HISTORIES]

            async def ours(session_id: str, i: int) -> None:
                await memory_turn(memory, session_id, i)

            async def raw(session_id: str, i: int) -> None:
                await baseline_turn(admin, session_id, i)

            rates: list[dict[str, Any]] = []
            for sessions, turns_each in ((1, SINGLE_SESSION_TURNS), (MANY_SESSIONS, TURNS_PER_SESSION)):
                for run_turn in (ours, raw):  # warm-up: open the connections this concurrency needs
                    await turns_per_second(run_turn, sessions, 2)
                memory_rate = max([await turns_per_second(ours, sessions, turns_each) for _ in range(REPEATS)])
                baseline_rate = max([await turns_per_second(raw, sessions, turns_each) for _ in range(REPEATS)])
                rates.append(
                    {
                        "sessions": sessions,
                        "turns": sessions * turns_each,
                        "memory_turns_per_s": round(memory_rate, 1),
                        "baseline_turns_per_s": round(baseline_rate, 1),
                        "ratio": round(memory_rate / baseline_rate, 3),
                    }
                )
        finally:
            await memory.close()
            await admin.aclose()
    return {"per_turn": costs, "throughput": rates}


def report(results: dict[str, Any]) -> None:
    print("RedisMemory per chat turn (lock + load_history + append + unlock)")
    print(f"{'history events':>15} {'round trips':>12} {'redis commands':>15}")
    for row in results["per_turn"]:
        print(f"{row['history_events']:>15} {row['round_trips_per_turn']:>12.2f} {row['commands_per_turn']:>15.2f}")
    print()
    print("Chat turns per second vs raw pipelined RPUSH+ZADD of the same bytes")
    print(f"{'sessions':>8} {'turns':>6} {'RedisMemory/s':>14} {'baseline/s':>11} {'ratio':>6}")
    for row in results["throughput"]:
        print(
            f"{row['sessions']:>8} {row['turns']:>6} {row['memory_turns_per_s']:>14.1f}"
            f" {row['baseline_turns_per_s']:>11.1f} {row['ratio']:>6.2f}"
        )


if __name__ == "__main__":
    outcome = asyncio.run(main())
    report(outcome)
    print(f"\nwrote {merge_results(outcome).relative_to(ROOT)}")
