"""CPU instructions per chat request: PAIS vs the minimal FastAPI + agent.run endpoint, counted, not timed.

On a shared VM the speed of a core drifts by 20-30% from one second to the next, so requests per
second need many interleaved rounds to compare. Instructions executed do not drift: this benchmark
drives each app in-process through ASGI (16 concurrent requests, no sockets) under valgrind's
cachegrind and reports instructions per request (a run of `--requests` minus a run of 16, so start-up
cancels out). The ratio approximates the throughput ratio of a CPU-bound server (it ignores cache
misses and the HTTP parser, which are the same for every app).

    apt-get install valgrind
    uv run python bench/server/bench_instructions.py [--requests 800]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import CHAT_BODY, count_instructions, save

HERE = Path(__file__).resolve().parent
APPS = {
    "minimal": "apps:minimal_app",
    "pais": "apps:pais_app",
    "pais (null memory)": "apps:pais_null_app",
}
CONCURRENCY = 16
WARM_UP = 16


async def _request(app: Any, body: bytes) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"the app answered {statuses}")


async def drive(factory: str, requests: int) -> None:
    """Start the app's lifespan, then serve `requests` chat requests, `CONCURRENCY` at a time."""
    module, name = factory.split(":")
    app = getattr(importlib.import_module(module), name)()
    body = CHAT_BODY.encode()
    async with app.router.lifespan_context(app) as state:
        for key, value in (state or {}).items():
            setattr(app.state, key, value)

        async def client(count: int) -> None:
            for _ in range(count):
                await _request(app, body)

        await asyncio.gather(*(client(requests // CONCURRENCY) for _ in range(CONCURRENCY)))


def instructions(factory: str, requests: int) -> int:
    """Instructions valgrind counts for a whole process serving `requests` requests."""
    return count_instructions([sys.executable, __file__, "--drive", factory, "--requests", str(requests)], cwd=HERE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=800, help="requests measured per app")
    parser.add_argument("--drive", metavar="FACTORY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        sys.path.insert(0, str(HERE))
        uvloop.run(drive(args.drive, args.requests))  # the event loop uvicorn serves PAIS with
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")

    runs = [(name, n) for name in APPS for n in (WARM_UP, WARM_UP + args.requests)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # valgrind runs one core per process
        counts = dict(zip(runs, pool.map(lambda run: instructions(APPS[run[0]], run[1]), runs), strict=True))
    per_request = {
        name: (counts[(name, WARM_UP + args.requests)] - counts[(name, WARM_UP)]) / args.requests for name in APPS
    }
    base = per_request["minimal"]
    print(
        f"\ninstructions per non-streaming chat request ({args.requests} requests, "
        f"{CONCURRENCY} concurrent, in-process ASGI)"
    )
    print(f"{'app':<20} {'M instr/request':>16} {'vs minimal':>11} {'throughput bound':>17}")
    for name, value in per_request.items():
        print(f"{name:<20} {value / 1e6:>16.2f} {value / base:>10.3f}x {base / value:>16.0%}")
    print(f"results: {save('server_instructions', {'requests': args.requests, 'per_request': per_request})}")


if __name__ == "__main__":
    main()
