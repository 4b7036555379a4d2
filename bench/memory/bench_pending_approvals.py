"""Every pending approval of an agent (`GET /approvals` without `session_id`, all pages), before and after
the memory's index of paused runs awaiting approval.

Run: `python bench/memory/bench_pending_approvals.py` (starts its own redis-server on a free loopback port).

For 2,000 and 10,000 sessions of which 20 have a run paused awaiting approval, on Redis and in process:
- `sessions`: what the route did before the index: page through the sessions (100 a page) and peek
  each one's paused run;
- `index`: page through `Memory.list_paused_runs` (100 a page) and peek those.
Median of repeated calls, in milliseconds. Merges the results into bench/results/memory.json under
"pending_approvals".
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pais_core import MemoryEvent
from pais_memory import LocalMemory, Memory, Page, RedisMemory

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from _results import merge_results  # noqa: E402
from pais_testing.redis_server import RedisServer  # noqa: E402

SIZES = (2_000, 10_000)
PAUSED = 20
REPEATS = 9


async def _fill(memory: Memory, n: int) -> None:
    for start in range(0, n, 200):
        chunk = range(start, min(start + 200, n))
        await asyncio.gather(
            *(memory.append(f"s-{i}", [MemoryEvent(event_type="user_message", content="hi")]) for i in chunk)
        )
    for i in range(0, n, n // PAUSED):
        await memory.put_paused_run(f"s-{i}", b"x" * 2000, ttl_seconds=3600, listed=True)


async def _pending(memory: Memory, list_page: Callable[..., Awaitable[Page[str]]]) -> int:
    """How many paused runs the pages of `list_page` (sessions, or the paused-run index) lead to."""
    found, cursor = 0, None
    while True:
        page = await list_page(cursor=cursor, limit=100)
        states = await asyncio.gather(*(memory.peek_paused_run(s) for s in page.items))
        found += sum(state is not None for state in states)
        if (cursor := page.next_cursor) is None:
            return found


async def _median_ms(call: Callable[[], Awaitable[int]]) -> float:
    assert await call() == PAUSED
    times: list[float] = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 2)


async def _measure(memory: Memory, n: int) -> dict[str, float]:
    await _fill(memory, n)
    return {
        "sessions_ms": await _median_ms(lambda: _pending(memory, memory.list_sessions)),
        "index_ms": await _median_ms(lambda: _pending(memory, memory.list_paused_runs)),
    }


async def main() -> None:
    results: dict[str, dict[str, float]] = {}
    with RedisServer() as server:
        for n in SIZES:
            memory = RedisMemory.from_url(server.url, key_prefix=f"bench{n}", max_sessions=n)
            results[f"redis_{n}"] = await _measure(memory, n)
            await memory.close()
            local = LocalMemory(max_sessions=n)
            results[f"local_{n}"] = await _measure(local, n)
            await local.close()
    print(f"{'backend':<14}{'sessions (before)':>20}{'index':>10}   (ms, every pending approval of {PAUSED})")
    for name, row in results.items():
        print(f"{name:<14}{row['sessions_ms']:>20}{row['index_ms']:>10}")
    merge_results({"pending_approvals": results})


if __name__ == "__main__":
    asyncio.run(main())
