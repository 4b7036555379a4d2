"""Redis memory measured through the server: `python -m pais_server` with MEMORY_TYPE=redis vs local.

Run: `python bench/memory/bench_server_memory.py [--seconds 5]` (starts its own redis-server and
PAIS processes on free loopback ports; the model is DEBUG_MOCK_RESPONSES, so memory is what differs).

Measured in one run:
- Redis round trips per chat request, for a session already holding 10 and 1,000 events: counted
  by a TCP proxy between PAIS and Redis (one round trip = the client sends, then Redis answers),
  next to the commands Redis executed (`INFO commandstats` deltas, including those run inside
  Lua). Neither may grow with history.
- Chat turns per second (wrk, PAIS and wrk on separate cores) for one session (1 client,
  sequential turns) and for 100 sessions (16 clients, sessions in rotation), PAIS with Redis
  memory next to the same PAIS with local memory, as a ratio.

Prints a table and merges the results into bench/results/memory.json under "through_server".
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "support")]
from _harness import Load, Started, free_port, rotating_sessions, start_mock_pais, wrk  # noqa: E402
from _results import merge_results  # noqa: E402
from pais_testing.redis_server import RedisServer  # noqa: E402

HISTORIES = (10, 1_000)  # events already in the session
COUNTED_TURNS = 20
ROTATING_SESSIONS = 100
ANSWER = "The answer is 42."


class RoundTripProxy:
    """A TCP proxy to Redis on its own thread, counting round trips over all its connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.round_trips = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RoundTripProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        redis_in, redis_out = await asyncio.open_connection("127.0.0.1", self.target_port)
        awaiting_reply = False

        async def requests() -> None:
            nonlocal awaiting_reply
            while data := await client_in.read(65536):
                if not awaiting_reply:  # the first bytes since Redis last answered: a new round trip
                    self.round_trips += 1
                    awaiting_reply = True
                redis_out.write(data)
                await redis_out.drain()
            redis_out.close()

        async def replies() -> None:
            nonlocal awaiting_reply
            while data := await redis_in.read(65536):
                awaiting_reply = False
                client_out.write(data)
                await client_out.drain()
            client_out.close()

        await asyncio.gather(requests(), replies(), return_exceptions=True)


def chat(client: httpx.Client, session_id: str, text: str) -> None:
    body = {"messages": [{"role": "user", "content": text}]}
    response = client.post("/v1/chat/completions", json=body, headers={"X-Session-ID": session_id})
    response.raise_for_status()


def commands(admin: Redis) -> Counter[str]:
    stats: dict[str, dict[str, int]] = admin.info("commandstats")
    return Counter(
        {key.removeprefix("cmdstat_"): value["calls"] for key, value in stats.items() if key != "cmdstat_info"}
    )


def per_turn_cost(url: str, proxy: RoundTripProxy, admin: Redis) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for history in HISTORIES:
            session_id = f"history-{history}"
            for i in range(history // 2):  # a chat turn stores two events
                chat(client, session_id, f"question {i}")
            chat(client, session_id, "warm-up")
            trips_before, commands_before = proxy.round_trips, commands(admin)
            for i in range(COUNTED_TURNS):
                chat(client, session_id, f"counted {i}")
            executed = commands(admin) - commands_before
            rows.append(
                {
                    "history_events": history,
                    "round_trips_per_turn": (proxy.round_trips - trips_before) / COUNTED_TURNS,
                    "commands_per_turn": executed.total() / COUNTED_TURNS,
                    "commands": {name: calls / COUNTED_TURNS for name, calls in sorted(executed.items())},
                }
            )
    return rows


ROTATE = rotating_sessions("rotating-", ROTATING_SESSIONS)


def throughput(url: str, seconds: float) -> dict[str, Load]:
    chat_url = f"{url}/v1/chat/completions"
    scenarios: dict[str, Callable[[float], Load]] = {
        "one_session": lambda s: wrk(chat_url, connections=1, seconds=s, headers={"X-Session-ID": "one-session"}),
        f"{ROTATING_SESSIONS}_sessions": lambda s: wrk(chat_url, connections=16, seconds=s, lua=ROTATE),
    }
    loads: dict[str, Load] = {}
    for name, load in scenarios.items():
        load(1)  # warm-up
        loads[name] = load(seconds)
    return loads


def run(seconds: float) -> dict[str, Any]:
    with RedisServer() as redis, RoundTripProxy(redis.port) as proxy, ExitStack() as stack:
        memory_envs = {
            "counted": {"MEMORY_TYPE": "redis", "MEMORY_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"},
            "redis": {"MEMORY_TYPE": "redis", "MEMORY_REDIS_URL": redis.url},
            "local": {"MEMORY_TYPE": "local"},
        }
        servers: dict[str, Started] = {}
        for name, memory_env in memory_envs.items():
            servers[name] = start_mock_pais(ANSWER, {"MEMORY_MAX_SESSION_EVENTS": "2000", **memory_env})
            stack.callback(servers[name].stop)
        admin = stack.enter_context(Redis(host="127.0.0.1", port=redis.port))
        costs = per_turn_cost(servers["counted"].url, proxy, admin)
        redis_loads = throughput(servers["redis"].url, seconds)
        local_loads = throughput(servers["local"].url, seconds)
    rates = [
        {
            "scenario": name,
            "connections": redis_loads[name].connections,
            "redis": redis_loads[name],
            "local": local_loads[name],
            "ratio": round(redis_loads[name].rps / local_loads[name].rps, 3),
        }
        for name in redis_loads
    ]
    return {"seconds": seconds, "per_turn": costs, "throughput": rates}


def report(results: dict[str, Any]) -> None:
    print("Through PAIS (python -m pais_server, MEMORY_TYPE=redis): Redis cost per chat request")
    print(f"{'history events':>15} {'round trips':>12} {'redis commands':>15}  commands")
    for row in results["per_turn"]:
        breakdown = ", ".join(f"{name} {calls:g}" for name, calls in row["commands"].items())
        print(
            f"{row['history_events']:>15} {row['round_trips_per_turn']:>12.2f}"
            f" {row['commands_per_turn']:>15.2f}  {breakdown}"
        )
    print()
    print(f"Chat turns per second through PAIS, Redis memory vs local memory ({results['seconds']:g}s per run)")
    print(f"{'scenario':>13} {'clients':>7} {'redis/s':>8} {'p99 ms':>7} {'local/s':>8} {'p99 ms':>7} {'ratio':>6}")
    for row in results["throughput"]:
        redis, local = row["redis"], row["local"]
        print(
            f"{row['scenario']:>13} {row['connections']:>7} {redis.rps:>8.0f} {redis.p99_ms:>7.1f}"
            f" {local.rps:>8.0f} {local.p99_ms:>7.1f} {row['ratio']:>6.2f}"
        )
        if redis.errors or local.errors:
            print(f"  errors: redis {redis.errors}, local {local.errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per scenario and memory type")
    outcome = run(parser.parse_args().seconds)
    report(outcome)
    print(f"\nwrote {merge_results({'through_server': outcome}).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
