"""Bench only: PAIS with the per-run work of run logs switched off, to measure what that work costs.

Importing this module replaces, on `RedisMemory`, the run-log appends with ones that write nothing
(they answer made-up event ids), lease calls with ones that hold nothing, and the push-config look-up
with one that finds none; a task step (`put_task_step`) writes only the task record. Everything else is the same
server. `python bench/server/run_log_off.py` then serves like `python -m pais_server`.
Followers of such a server wait forever: this is for blocking sends and streams only.
"""

from __future__ import annotations

import itertools
import runpy
from collections.abc import Sequence
from typing import Any

from pais_memory import RedisMemory

_ids = itertools.count(1)


async def _append_run_events(self: RedisMemory, run_id: str, events: Sequence[Any]) -> list[str]:
    return [f"{next(_ids)}-0" for _ in events]


async def _append_run_event(self: RedisMemory, run_id: str, data: Any, *, final: bool = False) -> str:
    return f"{next(_ids)}-0"


async def _lease(self: RedisMemory, *args: Any, **kwargs: Any) -> bool:
    return True


async def _release(self: RedisMemory, run_id: str, holder: str) -> None:
    return None


async def _task_step(self: RedisMemory, task_id: str, context_id: str, task: Any, **kwargs: Any) -> Any:
    from pais_memory import TaskStep

    events, unless, owner = kwargs.get("events", ()), kwargs.get("unless_state_in", ()), kwargs.get("owner")
    if not await self.put_task(task_id, context_id, task, unless_state_in=unless, owner=owner):
        return TaskStep(stored=False, current=await self.get_task(task_id))
    return TaskStep(stored=True, event_ids=[f"{next(_ids)}-0" for _ in events])


async def _no_configs(self: RedisMemory, task_id: str) -> list[dict[str, Any]]:
    return []


RedisMemory.append_run_events = _append_run_events
RedisMemory.append_run_event = _append_run_event
RedisMemory.acquire_lease = _lease
RedisMemory.renew_lease = _lease
RedisMemory.release_lease = _release
RedisMemory.list_push_configs = _no_configs
if hasattr(RedisMemory, "put_task_step"):  # revisions before it wrote each part on its own
    RedisMemory.put_task_step = _task_step

if __name__ == "__main__":
    runpy.run_module("pais_server", run_name="__main__")
