"""What run logs cost: chat and A2A throughput with the run log on and off, and subscribe latency.

Run: `python bench/server/bench_run_log.py [--source REV] [--seconds 5] [--requests 400]`
(starts its own redis-server; `--source` measures a past revision, exported with `git archive`).

- Throughput: blocking A2A `message/send` and streamed chat completions (`stream: true`), a new
  context or session per request, mock model, with wrk at 1 and 16 clients, through `python -m
  pais_server` with `MEMORY_TYPE=redis`. "off" is the same server with `run_log_off.py` imported:
  run-log appends, leases and push-config look-ups write nothing (what the run log adds per run is
  all they do). Servers alternate, median of 3 rounds.
- Instructions per request (steady where requests per second drift with the shared machine): the
  same requests driven in-process through ASGI (16 concurrent, Redis in its own process) under
  valgrind's cachegrind, on and off; a run of `--requests` minus a run of 16 (start-up cancels out).
- Subscribe latency: a writer process appends events to a run log through one `RedisMemory`, a
  follower process follows it through another (two replicas); the latency is the follower's
  receive time minus the write time carried in the event (same host clock), p50 and p99.

Prints tables and writes bench/results/run_log.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
from _harness import Load, count_instructions, free_port, save, start_server, wrk  # noqa: E402
from pais_testing.redis_server import RedisServer  # noqa: E402

ROUNDS = 3
CLIENTS = (1, 16)
EVENTS = 2000
EVENT_GAP = 0.002
CONCURRENCY = 16
WARM_UP = 16
ANSWER = "The answer is 42."

A2A_SEND = """
local n = 0
request = function()
  n = n + 1
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"kind":"message",'
    .. '"role":"user","messageId":"m-' .. n .. '","contextId":"bench-' .. n .. '",'
    .. '"parts":[{"kind":"text","text":"What is the answer?"}]}}}'
  return wrk.format()
end
"""
CHAT_STREAM = json.dumps(
    {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "What is the answer?"}]}
)
WORKLOADS = {"a2a": ("/", A2A_SEND, ""), "chat": ("/v1/chat/completions", "", CHAT_STREAM)}


def export(rev: str) -> Path:
    """The `packages/*/src` directories of `rev`, exported to a temporary directory."""
    target = Path(tempfile.mkdtemp(prefix="pais-source-"))
    archive = subprocess.run(["git", "archive", rev, "packages"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def server_env(redis_url: str, source: Path | None) -> dict[str, str]:
    env = {
        "DEBUG_MOCK_RESPONSES": json.dumps([ANSWER]),
        "MEMORY_TYPE": "redis",
        "MEMORY_REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(src) for src in sorted(source.glob("packages/*/src")))
    return env


VARIANTS = {"on": ["-m", "pais_server"], "off": [str(HERE / "run_log_off.py")]}


def throughput(redis_url: str, seconds: float, source: Path | None) -> dict[str, dict[str, dict[str, list[Load]]]]:
    """Loads per workload, variant and number of clients."""
    loads = {w: {v: {str(c): list[Load]() for c in CLIENTS} for v in VARIANTS} for w in WORKLOADS}
    for _ in range(ROUNDS):
        for variant, argv in VARIANTS.items():
            port = free_port()
            env = {"AGENT_NAME": f"bench-{variant}", "AGENT_PORT": str(port), **server_env(redis_url, source)}
            server = start_server([sys.executable, *argv], port=port, ready_path="/ready", env=env)
            try:
                for workload, (path, lua, body) in WORKLOADS.items():
                    url = server.url + path
                    body = body or "{}"  # the A2A script sets each request's body
                    wrk(url, connections=4, seconds=1, lua=lua, body=body)  # warm-up
                    for clients in CLIENTS:
                        load = wrk(url, connections=clients, seconds=seconds, lua=lua, body=body)
                        loads[workload][variant][str(clients)].append(load)
            finally:
                server.stop()
    return loads


async def _drive(workload: str, requests: int) -> None:
    """Serve `requests` requests of `workload` in-process through ASGI, `CONCURRENCY` at a time."""
    from pais_core import Settings
    from pais_server import create_app

    app: Any = create_app(Settings.from_env())
    path, _, body = WORKLOADS[workload]
    counter = iter(range(1_000_000))

    async def request() -> None:
        n = next(counter)
        payload = (
            body.encode()
            or json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "message/send",
                    "params": {
                        "message": {
                            "kind": "message",
                            "role": "user",
                            "messageId": f"m-{n}",
                            "contextId": f"bench-{os.getpid()}-{n}",
                            "parts": [{"kind": "text", "text": "What is the answer?"}],
                        }
                    },
                }
            ).encode()
        )
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        messages = [{"type": "http.request", "body": payload, "more_body": False}]
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                raise RuntimeError(f"the app answered {message['status']}")
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(scope, receive, send)

    async with app.router.lifespan_context(app) as state:
        for key, value in (state or {}).items():
            setattr(app.state, key, value)

        async def client(count: int) -> None:
            for _ in range(count):
                await request()

        await asyncio.gather(*(client(requests // CONCURRENCY) for _ in range(CONCURRENCY)))


def instructions(redis_url: str, source: Path | None, requests: int) -> dict[str, dict[str, float]]:
    """Instructions per request, per workload and variant."""
    runs = [(w, v, n) for w in WORKLOADS for v in VARIANTS for n in (WARM_UP, WARM_UP + requests)]

    def count(run: tuple[str, str, int]) -> int:
        workload, variant, n = run
        argv = [sys.executable, __file__, "--drive", workload, "--requests", str(n)]
        argv += ["--off"] if variant == "off" else []
        name = f"bench-i-{workload}-{variant}-{n}"  # runs at once must not share keys (leases, sweeps)
        env = {**os.environ, "AGENT_NAME": name, **server_env(redis_url, source)}
        return count_instructions(argv, cwd=ROOT, env=env)

    with ThreadPoolExecutor(max_workers=2) as pool:  # valgrind runs one core per process
        counts = dict(zip(runs, pool.map(count, runs), strict=True))
    return {
        w: {v: (counts[(w, v, WARM_UP + requests)] - counts[(w, v, WARM_UP)]) / requests for v in VARIANTS}
        for w in WORKLOADS
    }


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
    parser.add_argument("--requests", type=int, default=400, help="requests counted per workload and variant")
    parser.add_argument("--source", help="measure this revision instead of the checkout")
    parser.add_argument("--skip", nargs="*", default=[], choices=["latency", "throughput", "instructions"])
    parser.add_argument("--drive", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--off", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        import uvloop

        if args.off:
            sys.path.insert(0, str(HERE))
            import run_log_off  # noqa: F401  # pyright: ignore[reportUnusedImport]
        uvloop.run(_drive(args.drive, args.requests))  # the event loop uvicorn serves PAIS with
        return
    source = export(args.source) if args.source else None
    results: dict[str, Any] = {"source": args.source or "checkout"}
    with RedisServer() as redis:
        if "latency" not in args.skip:
            latency = results["subscribe_latency"] = subscribe_latency(redis.url)
            print(f"Subscribe latency across replicas ({latency['events']} events, one every {EVENT_GAP * 1000:g} ms):")
            print(f"  p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms, max {latency['max_ms']:.2f} ms")
        if "instructions" not in args.skip and shutil.which("valgrind"):
            per_request = results["instructions_per_request"] = instructions(redis.url, source, args.requests)
            print(f"\nInstructions per request ({args.requests} requests, {CONCURRENCY} concurrent, in-process ASGI)")
            print(f"{'workload':<9} {'on M':>8} {'off M':>8} {'off/on':>7}")
            for workload, by_variant in per_request.items():
                on, off = by_variant["on"], by_variant["off"]
                print(f"{workload:<9} {on / 1e6:>8.2f} {off / 1e6:>8.2f} {off / on:>7.3f}")
        if "throughput" not in args.skip:
            loads = throughput(redis.url, args.seconds, source)
            rows: list[dict[str, Any]] = []
            print(f"\nRequests per second, MEMORY_TYPE=redis, median of {ROUNDS} ({args.seconds:g} s each)")
            print(f"{'workload':<9} {'clients':>7} {'on/s':>7} {'p99 ms':>7} {'off/s':>7} {'p99 ms':>7} {'ratio':>6}")
            for workload, by_variant in loads.items():
                for clients in CLIENTS:
                    on, off = by_variant["on"][str(clients)], by_variant["off"][str(clients)]
                    on_rps, off_rps = statistics.median(x.rps for x in on), statistics.median(x.rps for x in off)
                    on_p99, off_p99 = statistics.median(x.p99_ms for x in on), statistics.median(x.p99_ms for x in off)
                    errors = sum(x.errors for x in on + off)
                    row = {"workload": workload, "clients": clients, "on_rps": on_rps, "off_rps": off_rps}
                    rows.append({**row, "errors": errors})
                    print(
                        f"{workload:<9} {clients:>7} {on_rps:>7.0f} {on_p99:>7.1f} {off_rps:>7.0f} {off_p99:>7.1f}"
                        f" {on_rps / off_rps:>6.2f}" + (f"  errors {errors}" if errors else "")
                    )
            results["throughput"] = rows
    path = save("run_log", results)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
