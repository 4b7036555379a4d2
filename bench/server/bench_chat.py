"""Non-streaming chat: PAIS (local memory) vs a minimal FastAPI + agent.run endpoint vs a fixed body.

Prints requests/s and p50/p99 latency at 1, 16 and 64 concurrent clients, start-to-ready time
and idle RSS, each as a ratio to the minimal endpoint measured in the same run.

    uv run python bench/server/bench_chat.py [--seconds 5] [--starts 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import Load, free_port, median, save, start_server, uvicorn_argv, wrk

HERE = Path(__file__).resolve().parent
SERVERS = {"pais": "apps:pais_app", "minimal": "apps:minimal_app", "fixed": "apps:fixed_app"}
LEVELS = (1, 16, 64)


@dataclass
class ServerResult:
    name: str
    ready_seconds: float
    idle_rss_mib: float
    loads: list[Load]


def measure(name: str, factory: str, *, seconds: float, starts: int) -> ServerResult:
    ready_times: list[float] = []
    rss: list[float] = []
    for _ in range(starts):
        port = free_port()
        server = start_server(uvicorn_argv(factory, port, HERE), port=port)
        ready_times.append(server.ready_seconds)
        time.sleep(1.0)
        rss.append(server.rss_mib())
        server.stop()
    port = free_port()
    server = start_server(uvicorn_argv(factory, port, HERE), port=port)
    try:
        url = f"{server.url}/v1/chat/completions"
        wrk(url, connections=16, seconds=2)  # warm-up
        loads = [wrk(url, connections=c, seconds=seconds) for c in LEVELS]
    finally:
        server.stop()
    return ServerResult(name, median(ready_times), median(rss), loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="load duration per concurrency level")
    parser.add_argument("--starts", type=int, default=3, help="process starts measured per server")
    args = parser.parse_args()

    results = [measure(name, factory, seconds=args.seconds, starts=args.starts) for name, factory in SERVERS.items()]
    base = next(r for r in results if r.name == "minimal")
    pais = next(r for r in results if r.name == "pais")
    print(
        f"\nnon-streaming chat, instant in-process model, {args.seconds:g}s per level, server and wrk on separate cores"
    )
    print(f"{'server':<8} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'vs minimal':>10}")
    for result in results:
        for load, base_load in zip(result.loads, base.loads, strict=True):
            print(
                f"{result.name:<8} {load.connections:>7} {load.rps:>9.0f} {load.p50_ms:>8.2f} {load.p99_ms:>8.2f} "
                f"{load.errors:>6} {load.rps / base_load.rps:>9.0%}"
            )
    print(f"\n{'server':<8} {'start->ready s':>14} {'vs minimal':>10} {'idle RSS MiB':>13} {'vs minimal':>10}")
    for r in results:
        print(
            f"{r.name:<8} {r.ready_seconds:>14.3f} {r.ready_seconds / base.ready_seconds:>9.2f}x "
            f"{r.idle_rss_mib:>13.1f} {r.idle_rss_mib / base.idle_rss_mib:>9.2f}x"
        )
    print(
        f"\ntargets: throughput at 16 clients >= 90% of minimal -> {pais.loads[1].rps / base.loads[1].rps:.0%}; "
        f"start->ready <= 1.2x -> {pais.ready_seconds / base.ready_seconds:.2f}x; "
        f"idle RSS <= 1.3x -> {pais.idle_rss_mib / base.idle_rss_mib:.2f}x"
    )
    print(f"results: {save('server', results)}")


if __name__ == "__main__":
    main()
