"""Non-streaming chat: PAIS (local or Redis memory) vs a minimal FastAPI + agent.run endpoint vs a fixed body.

Prints requests/s and p50/p99 latency at 1, 16 and 64 concurrent clients, start-to-ready time
and idle RSS, each as a ratio to the minimal endpoint measured in the same run.

    uv run python bench/server/bench_chat.py [--seconds 2] [--rounds 5] [--starts 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import ROOT, Load, Started, free_port, median, save, start_server, uvicorn_argv, wrk

sys.path.insert(0, str(ROOT / "tests" / "support"))
from pais_testing.redis_server import RedisServer

HERE = Path(__file__).resolve().parent
SERVERS = {
    "pais": "apps:pais_app",
    "pais+redis": "apps:pais_redis_app",
    "minimal": "apps:minimal_app",
    "fixed": "apps:fixed_app",
}
LEVELS = (1, 16, 64)


@dataclass
class ServerResult:
    name: str
    ready_seconds: float
    idle_rss_mib: float
    loads: list[Load]


def _median_load(loads: list[Load]) -> Load:
    return Load(
        loads[0].connections,
        median([x.rps for x in loads]),
        median([x.p50_ms for x in loads]),
        median([x.p99_ms for x in loads]),
        sum(x.errors for x in loads),
        p75_ms=median([x.p75_ms for x in loads]),
        p90_ms=median([x.p90_ms for x in loads]),
    )


def measure_starts(starts: int, env: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    """Median start-to-ready seconds and idle RSS per server, starting the servers in turn."""
    ready: dict[str, list[float]] = {name: [] for name in SERVERS}
    rss: dict[str, list[float]] = {name: [] for name in SERVERS}
    for _ in range(starts):
        for name, factory in SERVERS.items():
            port = free_port()
            server = start_server(uvicorn_argv(factory, port, HERE), port=port, env=env)
            ready[name].append(server.ready_seconds)
            time.sleep(1.0)
            rss[name].append(server.rss_mib())
            server.stop()
    return {name: (median(ready[name]), median(rss[name])) for name in SERVERS}


def measure_loads(rounds: int, seconds: float, env: Mapping[str, str]) -> dict[str, list[Load]]:
    """Load every server at each concurrency level, `rounds` times in turn; the median round counts.

    Interleaving short rounds, instead of loading one server after the other, keeps the ratios honest
    on a machine whose speed drifts (a shared VM): every server sees the same mix of fast and slow moments.
    """
    servers: dict[str, Started] = {}
    try:
        for name, factory in SERVERS.items():
            port = free_port()
            servers[name] = start_server(uvicorn_argv(factory, port, HERE), port=port, env=env)
        urls = {name: f"{server.url}/v1/chat/completions" for name, server in servers.items()}
        for url in urls.values():
            wrk(url, connections=16, seconds=2)  # warm-up
        loads: dict[str, list[Load]] = {name: [] for name in SERVERS}
        for clients in LEVELS:
            rounds_by_server: dict[str, list[Load]] = {name: [] for name in SERVERS}
            for _ in range(rounds):
                for name, url in urls.items():
                    rounds_by_server[name].append(wrk(url, connections=clients, seconds=seconds))
            for name, measured in rounds_by_server.items():
                loads[name].append(_median_load(measured))
        return loads
    finally:
        for server in servers.values():
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=2, help="load duration of one round (whole seconds)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per server and concurrency level")
    parser.add_argument("--starts", type=int, default=3, help="process starts measured per server")
    args = parser.parse_args()

    with RedisServer() as redis:
        env = {"BENCH_REDIS_URL": redis.url}
        starts = measure_starts(args.starts, env)
        loads = measure_loads(args.rounds, args.seconds, env)
    results = [ServerResult(name, *starts[name], loads[name]) for name in SERVERS]
    base = next(r for r in results if r.name == "minimal")
    pais = next(r for r in results if r.name == "pais")
    pais_redis = next(r for r in results if r.name == "pais+redis")
    print(
        f"\nnon-streaming chat, instant in-process model, median of {args.rounds} interleaved {args.seconds} s rounds "
        "per level, servers and wrk on separate cores"
    )
    print(f"{'server':<10} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'vs minimal':>10}")
    for result in results:
        for load, base_load in zip(result.loads, base.loads, strict=True):
            print(
                f"{result.name:<10} {load.connections:>7} {load.rps:>9.0f} {load.p50_ms:>8.2f} {load.p99_ms:>8.2f} "
                f"{load.errors:>6} {load.rps / base_load.rps:>9.0%}"
            )
    print(f"\n{'server':<10} {'start->ready s':>14} {'vs minimal':>10} {'idle RSS MiB':>13} {'vs minimal':>10}")
    for r in results:
        print(
            f"{r.name:<10} {r.ready_seconds:>14.3f} {r.ready_seconds / base.ready_seconds:>9.2f}x "
            f"{r.idle_rss_mib:>13.1f} {r.idle_rss_mib / base.idle_rss_mib:>9.2f}x"
        )
    print(
        f"\ntargets: throughput at 16 clients >= 90% of minimal -> {pais.loads[1].rps / base.loads[1].rps:.0%} "
        f"(with Redis: {pais_redis.loads[1].rps / base.loads[1].rps:.0%}); "
        f"start->ready <= 1.2x -> {pais.ready_seconds / base.ready_seconds:.2f}x; "
        f"idle RSS <= 1.3x -> {pais.idle_rss_mib / base.idle_rss_mib:.2f}x"
    )
    print(f"results: {save('server', results)}")


if __name__ == "__main__":
    main()
