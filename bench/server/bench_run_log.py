"""What the A2A run log costs: task throughput against a revision without it, and subscribe latency.

Run: `python bench/server/bench_run_log.py [--baseline REV]` (starts its own redis-server).

- A2A throughput: blocking `message/send` (mock model, a new context per task) with wrk at 1 and
  16 clients, through `python -m pais_server` with `MEMORY_TYPE=redis`, from this checkout and
  from `--baseline` (default `bf517a8`, the last revision without run logs and leases; its packages
  are exported with `git archive` and put first on `PYTHONPATH`). Servers alternate, median of 3.
- Subscribe latency: a writer process appends events to a run log through one `RedisMemory`, a
  follower process follows it through another (two replicas); the latency is the follower's
  receive time minus the write time carried in the event (same host clock), p50 and p99.

Prints a table and writes bench/results/run_log.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
from _harness import Load, free_port, save, start_server, wrk  # noqa: E402
from pais_testing.redis_server import RedisServer  # noqa: E402

ROUNDS = 3
CLIENTS = (1, 16)
EVENTS = 2000
EVENT_GAP = 0.002

SEND = """
local n = 0
request = function()
  n = n + 1
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"kind":"message",'
    .. '"role":"user","messageId":"m-' .. n .. '","contextId":"bench-' .. n .. '",'
    .. '"parts":[{"kind":"text","text":"What is the answer?"}]}}}'
  return wrk.format()
end
"""


def export(rev: str) -> Path:
    """The `packages/*/src` directories of `rev`, exported to a temporary directory."""
    target = Path(tempfile.mkdtemp(prefix="pais-baseline-"))
    archive = subprocess.run(["git", "archive", rev, "packages"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def a2a_throughput(redis_url: str, seconds: float, baseline: Path) -> dict[str, dict[str, list[Load]]]:
    sources = os.pathsep.join(str(src) for src in sorted(baseline.glob("packages/*/src")))
    variants = {"run_log": {}, "baseline": {"PYTHONPATH": sources}}
    loads: dict[str, dict[str, list[Load]]] = {name: {str(c): [] for c in CLIENTS} for name in variants}
    for _ in range(ROUNDS):
        for name, extra in variants.items():
            port = free_port()
            env = {
                "AGENT_NAME": f"bench-{name}",
                "AGENT_PORT": str(port),
                "DEBUG_MOCK_RESPONSES": json.dumps(["The answer is 42."]),
                "MEMORY_TYPE": "redis",
                "MEMORY_REDIS_URL": redis_url,
                "LOG_LEVEL": "WARNING",
                **extra,
            }
            server = start_server([sys.executable, "-m", "pais_server"], port=port, ready_path="/ready", env=env)
            try:
                wrk(f"{server.url}/", connections=4, seconds=1, lua=SEND)  # warm-up
                for clients in CLIENTS:
                    loads[name][str(clients)].append(
                        wrk(f"{server.url}/", connections=clients, seconds=seconds, lua=SEND)
                    )
            finally:
                server.stop()
    return loads


def _follow(url: str, ready: Any, out: Any) -> None:
    from pais_memory import RedisMemory

    async def follow() -> list[float]:
        memory = RedisMemory.from_url(url, key_prefix="bench-latency")
        latencies: list[float] = []
        ready.set()
        async for event in memory.follow_run_events("run", after="0-0"):
            latencies.append(time.time() - event.data["at"])
        await memory.close()
        return latencies

    out.put(asyncio.run(follow()))


async def _write(url: str, *, first: bool) -> None:
    from pais_memory import RedisMemory

    memory = RedisMemory.from_url(url, key_prefix="bench-latency")
    if first:  # the log exists before anyone follows it, as a task's does
        await memory.append_run_event("run", {"at": time.time(), "warm-up": True})
        await memory.close()
        return
    for n in range(EVENTS):
        await memory.append_run_event("run", {"at": time.time(), "n": n}, final=n == EVENTS - 1)
        await asyncio.sleep(EVENT_GAP)
    await memory.close()


def subscribe_latency(redis_url: str) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ready, out = context.Event(), context.Queue()
    asyncio.run(_write(redis_url, first=True))
    follower = context.Process(target=_follow, args=(redis_url, ready, out))
    follower.start()
    ready.wait(30)
    time.sleep(0.5)  # the follower is blocked in XREAD
    asyncio.run(_write(redis_url, first=False))
    latencies = sorted(out.get(timeout=60)[1:])  # without the warm-up event
    follower.join(10)
    ms = [value * 1000 for value in latencies]
    return {
        "events": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(len(ms) * 0.99) - 1],
        "max_ms": ms[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per run")
    parser.add_argument("--baseline", default="bf517a8", help="revision without the run log")
    args = parser.parse_args()
    baseline = export(args.baseline)
    with RedisServer() as redis:
        latency = subscribe_latency(redis.url)
        loads = a2a_throughput(redis.url, args.seconds, baseline)
    print(f"Subscribe latency across replicas ({latency['events']} events, one every {EVENT_GAP * 1000:g} ms):")
    print(f"  p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms, max {latency['max_ms']:.2f} ms")
    print(f"\nA2A blocking sends per second, MEMORY_TYPE=redis, median of {ROUNDS} ({args.seconds:g} s each)")
    print(f"{'clients':>7} {'run log/s':>10} {'p99 ms':>7} {'baseline/s':>11} {'p99 ms':>7} {'ratio':>6}")
    rows: list[dict[str, Any]] = []
    for clients in CLIENTS:
        ours, base = loads["run_log"][str(clients)], loads["baseline"][str(clients)]
        ours_rps, base_rps = statistics.median(x.rps for x in ours), statistics.median(x.rps for x in base)
        ours_p99, base_p99 = statistics.median(x.p99_ms for x in ours), statistics.median(x.p99_ms for x in base)
        errors = sum(x.errors for x in ours + base)
        rows.append({"clients": clients, "run_log_rps": ours_rps, "baseline_rps": base_rps, "errors": errors})
        print(
            f"{clients:>7} {ours_rps:>10.0f} {ours_p99:>7.1f} {base_rps:>11.0f} {base_p99:>7.1f}"
            f" {ours_rps / base_rps:>6.2f}" + (f"  errors {errors}" if errors else "")
        )
    path = save("run_log", {"baseline": args.baseline, "subscribe_latency": latency, "a2a_throughput": rows})
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
