"""NullMemory remembers no conversation but still keeps A2A task records."""

from __future__ import annotations

import asyncio

import pytest
from pydantic_ai.messages import ModelRequest, UserPromptPart

from pais_core import MemoryEvent, NotFoundError, Settings
from pais_memory import NullMemory, memory_from_settings


async def test_nothing_is_remembered() -> None:
    memory = NullMemory()
    await memory.append(
        "s", [MemoryEvent(event_type="user_message", content="hi")], [ModelRequest(parts=[UserPromptPart("hi")])]
    )

    assert await memory.load_history("s", turns=5) == []
    window = await memory.load_window("s", turns=5)
    assert (window.summary, window.turns) == (None, [])
    assert await memory.put_summary("s", "nothing to summarise", until_seq=1) is None
    assert not await memory.has_session("s")
    assert (await memory.list_sessions()).items == []
    with pytest.raises(NotFoundError):
        await memory.get_events("s")
    await memory.ping()


async def test_runs_on_one_session_are_not_serialised() -> None:
    memory = NullMemory()
    inside = 0
    peak = 0

    async def run() -> None:
        nonlocal inside, peak
        async with memory.session_lock("s", timeout=0.1):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.05)
            inside -= 1

    await asyncio.gather(run(), run())
    assert peak == 2  # no history to protect, so nothing to wait for


async def test_tasks_are_kept() -> None:
    memory = NullMemory(max_tasks=2)
    for i in range(3):
        await memory.put_task(f"t{i}", "ctx", {"id": f"t{i}"})

    assert await memory.get_task("t0") is None
    assert [t["id"] for t in (await memory.list_tasks(context_id="ctx")).items] == ["t2", "t1"]  # untimed: ties by id


async def test_run_logs_and_leases_are_kept() -> None:
    memory = NullMemory(max_tasks=2)
    for run_id in ("r0", "r1", "r2"):
        await memory.append_run_event(run_id, {"run": run_id}, final=True)
    assert await memory.acquire_lease("r2", "me", ttl_seconds=30)

    assert await memory.read_run_events("r0") == []  # the oldest log went, like the oldest task
    assert [e.data for e in await memory.read_run_events("r2")] == [{"run": "r2"}]
    assert not await memory.acquire_lease("r2", "someone-else", ttl_seconds=30)


@pytest.mark.parametrize(
    ("env", "expected"), [({"MEMORY_ENABLED": "false"}, NullMemory), ({"MEMORY_TYPE": "null"}, NullMemory)]
)
def test_settings_select_null_memory(env: dict[str, str], expected: type) -> None:
    assert isinstance(memory_from_settings(Settings.from_env({"AGENT_NAME": "a", **env})), expected)
