"""A2A ListTasks cost: one page of the newest tasks, read from the task index vs read-everything-and-sort.

Run: `python bench/memory/bench_list_tasks.py` (starts its own redis-server on a free loopback port).

For 2,000 and 10,000 stored tasks of one owner (realistic records: a prompt, an answer artifact,
a few lifecycle events; 90% `completed`, 10% `failed`), on Redis and in process:
- `scan`: what `A2ATasks.list` did before the index: read every record of the owner in pages of
  500, filter and sort by status timestamp in Python, validate one page of 50;
- `index`: `Memory.list_tasks` reading one page of 50 newest first from the index, validated alike;
- `index, state`: the same filtered to the rarer state (`failed`), also an index of its own;
- `put`: one `put_task` that changes a task's state (what keeps the index), sequential.
Median of repeated calls, in milliseconds. Merges the results into bench/results/memory.json under
"list_tasks".
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pais_core import Task
from pais_memory import LocalMemory, Memory, RedisMemory

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from _results import merge_results  # noqa: E402
from pais_testing.redis_server import RedisServer  # noqa: E402

SIZES = (2_000, 10_000)
PAGE = 50
REPEATS = 15
OWNER = "alice"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _record(i: int) -> dict[str, Any]:
    stamp = (START + timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    state = "failed" if i % 10 == 0 else "completed"
    text = f"task {i}: " + "the answer is forty-two. " * 8
    return {
        "id": f"task-{i:06d}",
        "contextId": f"ctx-{i % 200}",
        "kind": "task",
        "status": {"state": state, "timestamp": stamp},
        "history": [
            {
                "role": "user",
                "parts": [{"kind": "text", "text": f"question {i}"}],
                "messageId": f"m-{i}",
                "kind": "message",
            }
        ],
        "artifacts": [{"artifactId": f"a-{i}", "name": "answer", "parts": [{"kind": "text", "text": text}]}],
        "events": [
            {"type": t, "timestamp": stamp, "data": {}} for t in ("task.submitted", "task.working", f"task.{state}")
        ],
    }


async def _fill(memory: Memory, n: int) -> None:
    for start in range(0, n, 200):
        await asyncio.gather(
            *(
                memory.put_task(f"task-{i:06d}", f"ctx-{i % 200}", _record(i), owner=OWNER)
                for i in range(start, min(start + 200, n))
            )
        )


def _changed_at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["status"]["timestamp"])


async def _scan(memory: Memory) -> list[Task]:
    """The read path of `A2ATasks.list` before the index: every record, sorted in Python."""
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await memory.list_tasks(cursor=cursor, limit=500, owner=OWNER)
        records.extend(page.items)
        if (cursor := page.next_cursor) is None:
            break
    records.sort(key=_changed_at, reverse=True)
    return [Task.model_validate(record) for record in records[:PAGE]]


async def _indexed(memory: Memory, state: str | None = None) -> list[Task]:
    page = await memory.list_tasks(owner=OWNER, state=state, limit=PAGE)
    return [Task.model_validate(record) for record in page.items]


async def _median_ms(call: Callable[[], Awaitable[list[Task]]]) -> float:
    await call()
    times: list[float] = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        tasks = await call()
        times.append((time.perf_counter() - began) * 1000)
        assert len(tasks) == PAGE
    return round(statistics.median(times), 2)


async def _put_ms(memory: Memory, n: int) -> float:
    times: list[float] = []
    for i in range(n - 200, n):
        record = _record(i)
        record["status"] = {**record["status"], "state": "canceled"}
        began = time.perf_counter()
        await memory.put_task(record["id"], record["contextId"], record, owner=OWNER)
        times.append((time.perf_counter() - began) * 1000)
        await memory.put_task(record["id"], record["contextId"], _record(i), owner=OWNER)
    return round(statistics.median(times), 3)


async def _measure(memory: Memory, n: int) -> dict[str, float]:
    await _fill(memory, n)
    newest = (await _indexed(memory))[0]
    assert newest.id == f"task-{n - 1:06d}", newest.id
    return {
        "put_ms": await _put_ms(memory, n),
        "scan_ms": await _median_ms(lambda: _scan(memory)),
        "index_ms": await _median_ms(lambda: _indexed(memory)),
        "index_state_ms": await _median_ms(lambda: _indexed(memory, "failed")),
    }


async def main() -> None:
    results: dict[str, dict[str, float]] = {}
    with RedisServer() as server:
        for n in SIZES:
            memory = RedisMemory.from_url(server.url, key_prefix=f"bench{n}", max_tasks=2 * n)
            results[f"redis_{n}"] = await _measure(memory, n)
            await memory.close()
            local = LocalMemory(max_sessions=n)
            results[f"local_{n}"] = await _measure(local, n)
            await local.close()
    print(f"{'backend':<14}{'scan (before)':>16}{'index':>10}{'index+state':>14}{'put':>8}   (ms, page of {PAGE})")
    for name, row in results.items():
        print(f"{name:<14}{row['scan_ms']:>16}{row['index_ms']:>10}{row['index_state_ms']:>14}{row['put_ms']:>8}")
    merge_results({"list_tasks": results})


if __name__ == "__main__":
    asyncio.run(main())
