"""The `Memory` contract, run against every backend (LocalMemory and RedisMemory)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from pais_core import BadRequestError, MemoryEvent, NotFoundError, SessionBusyError
from pais_memory import LocalMemory, Memory, NullMemory, RunEvent

MakeMemory = Callable[..., Memory]


def chat_turn(label: str, *, tool: bool = False) -> tuple[list[MemoryEvent], list[ModelMessage]]:
    """The events and native messages one agent run stores; with `tool`, a call and its return."""
    events = [MemoryEvent(event_type="user_message", content=f"{label}?")]
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(content=f"{label}?")])]
    if tool:
        call_id = f"call-{label}"
        events += [
            MemoryEvent(event_type="tool_call", content={"tool": "lookup", "args": {"q": label}}),
            MemoryEvent(event_type="tool_result", content={"tool": "lookup", "result": label.upper()}),
        ]
        messages += [
            ModelResponse(parts=[ToolCallPart(tool_name="lookup", args={"q": label}, tool_call_id=call_id)]),
            ModelRequest(parts=[ToolReturnPart(tool_name="lookup", content=label.upper(), tool_call_id=call_id)]),
        ]
    events.append(MemoryEvent(event_type="agent_response", content=f"{label}!"))
    messages.append(ModelResponse(parts=[TextPart(content=f"{label}!")]))
    return events, messages


async def store_turn(memory: Memory, session_id: str, label: str, *, tool: bool = False) -> list[ModelMessage]:
    events, messages = chat_turn(label, tool=tool)
    await memory.append(session_id, events, messages)
    return messages


async def all_events(memory: Memory, session_id: str, *, page: int = 100) -> list[MemoryEvent]:
    events: list[MemoryEvent] = []
    cursor: str | None = None
    while True:
        result = await memory.get_events(session_id, cursor=cursor, limit=page)
        events += result.items
        if result.next_cursor is None:
            return events
        cursor = result.next_cursor


async def all_sessions(memory: Memory, *, page: int) -> list[str]:
    sessions: list[str] = []
    cursor: str | None = None
    while True:
        result = await memory.list_sessions(cursor=cursor, limit=page)
        sessions += result.items
        if result.next_cursor is None:
            return sessions
        cursor = result.next_cursor


def user_texts(history: list[ModelMessage]) -> list[str]:
    return [str(part.content) for message in history for part in message.parts if isinstance(part, UserPromptPart)]


async def test_history_replays_the_last_turns_in_order(memory: Memory) -> None:
    for label in ("one", "two", "three"):
        await store_turn(memory, "s", label)

    assert user_texts(await memory.load_history("s", turns=2)) == ["two?", "three?"]
    assert user_texts(await memory.load_history("s", turns=10)) == ["one?", "two?", "three?"]
    assert await memory.load_history("s", turns=0) == []
    assert await memory.load_history("unknown", turns=5) == []


async def test_native_tool_call_and_return_round_trip(memory: Memory) -> None:
    plain = await store_turn(memory, "s", "first")
    with_tool = await store_turn(memory, "s", "second", tool=True)

    assert await memory.load_history("s", turns=2) == plain + with_tool


async def test_append_creates_the_session(memory: Memory) -> None:
    assert not await memory.has_session("s")
    with pytest.raises(NotFoundError):
        await memory.get_events("s")

    await memory.append("s", [MemoryEvent(event_type="user_message", content="hi")])

    assert await memory.has_session("s")
    assert [event.content for event in (await memory.get_events("s")).items] == ["hi"]
    assert await memory.load_history("s", turns=3) == []  # events without messages add no turn


async def test_events_come_back_in_order_with_every_field(memory: Memory) -> None:
    events = [
        MemoryEvent(event_type="user_message", content="hi", metadata={"trace_id": "t" * 32}),
        MemoryEvent(event_type="delegation_request", content={"target": "worker", "task": "sum"}),
        MemoryEvent(event_type="error", content="boom"),
    ]
    await memory.append("s", events)

    page = await memory.get_events("s")
    assert page.items == events
    assert page.total == 3
    assert page.next_cursor is None


async def test_events_paginate_with_cursors(memory: Memory) -> None:
    stored = [MemoryEvent(event_type="user_message", content=i) for i in range(10)]
    for i in range(0, 10, 2):
        await memory.append("s", stored[i : i + 2])

    first = await memory.get_events("s", limit=4)
    assert [e.content for e in first.items] == [0, 1, 2, 3]
    assert first.total == 10
    assert first.next_cursor is not None
    assert await all_events(memory, "s", page=3) == stored
    with pytest.raises(BadRequestError):
        await memory.get_events("s", cursor="not-a-cursor")


async def test_event_cursor_survives_trimming(make_memory: MakeMemory) -> None:
    memory = make_memory(max_session_events=5)
    await memory.append("s", [MemoryEvent(event_type="user_message", content=i) for i in range(5)])
    first = await memory.get_events("s", limit=2)
    assert [e.content for e in first.items] == [0, 1]

    await memory.append("s", [MemoryEvent(event_type="user_message", content=i) for i in range(5, 8)])

    rest = await memory.get_events("s", cursor=first.next_cursor, limit=100)
    assert [e.content for e in rest.items] == [3, 4, 5, 6, 7]  # 2 was trimmed; nothing is repeated
    assert rest.total == 5


async def test_sessions_paginate_oldest_first(memory: Memory) -> None:
    names = [f"session-{i}" for i in range(7)]
    for name in names:
        await memory.append(name, [MemoryEvent(event_type="user_message", content=name)])
    await memory.append(names[0], [MemoryEvent(event_type="user_message", content="again")])

    first = await memory.list_sessions(limit=3)
    assert first.items == names[:3]
    assert first.total == 7
    assert await all_sessions(memory, page=3) == names
    assert await all_sessions(memory, page=100) == names
    with pytest.raises(BadRequestError):
        await memory.list_sessions(cursor="?")


async def test_trimming_drops_whole_turns_never_a_tool_pair(make_memory: MakeMemory) -> None:
    memory = make_memory(max_session_events=6)  # a tool turn stores 4 events
    await store_turn(memory, "s", "a", tool=True)
    await store_turn(memory, "s", "b", tool=True)
    last = await store_turn(memory, "s", "c", tool=True)

    events = await all_events(memory, "s")
    assert len(events) == 6
    assert [e.content for e in events][-1] == "c!"
    # Turn "b" lost two of its events, so only turn "c" may be replayed, call and return together.
    history = await memory.load_history("s", turns=10)
    assert history == last
    calls = {p.tool_call_id for m in history for p in m.parts if isinstance(p, ToolCallPart)}
    returns = {p.tool_call_id for m in history for p in m.parts if isinstance(p, ToolReturnPart)}
    assert calls == returns == {"call-c"}


async def test_the_least_recently_written_session_is_evicted(make_memory: MakeMemory) -> None:
    memory = make_memory(max_sessions=3)
    for name in ("a", "b", "c"):
        await store_turn(memory, name, name)
    await store_turn(memory, "a", "a2")  # "b" is now the least recently written

    await store_turn(memory, "d", "d")

    assert not await memory.has_session("b")
    assert await memory.load_history("b", turns=5) == []
    assert (await memory.list_sessions()).items == ["a", "c", "d"]
    assert user_texts(await memory.load_history("a", turns=5)) == ["a?", "a2?"]


async def test_concurrent_appends_lose_nothing_and_keep_each_writers_order(make_memory: MakeMemory) -> None:
    memory = make_memory(max_session_events=10_000)
    writers, turns = 20, 15

    async def writer(w: int) -> None:
        for t in range(turns):
            events, messages = chat_turn(f"{w}-{t}")
            await memory.append("s", events, messages)

    await asyncio.gather(*(writer(w) for w in range(writers)))

    events = await all_events(memory, "s", page=64)
    assert len(events) == writers * turns * 2
    assert len({e.event_id for e in events}) == len(events)
    # A turn's two events are adjacent (atomic append) and each writer's turns keep their order.
    pairs = [(events[i].content, events[i + 1].content) for i in range(0, len(events), 2)]
    assert all(q.removesuffix("?") == a.removesuffix("!") for q, a in pairs)
    for w in range(writers):
        mine = [q for q, _ in pairs if q.startswith(f"{w}-")]
        assert mine == [f"{w}-{t}?" for t in range(turns)]
    history = await memory.load_history("s", turns=writers * turns)
    assert user_texts(history) == [q for q, _ in pairs]


async def test_session_lock_serialises_runs(memory: Memory) -> None:
    inside: list[str] = []
    overlaps = 0

    async def run(name: str) -> None:
        nonlocal overlaps
        async with memory.session_lock("s", timeout=10):
            overlaps += bool(inside)
            inside.append(name)
            await asyncio.sleep(0.02)
            inside.remove(name)

    await asyncio.gather(*(run(f"run-{i}") for i in range(8)))
    assert overlaps == 0


async def test_session_lock_gives_up_after_the_bounded_wait(memory: Memory) -> None:
    async with memory.session_lock("s", timeout=1):
        started = time.monotonic()
        with pytest.raises(SessionBusyError):
            async with memory.session_lock("s", timeout=0.3):
                pytest.fail("entered a held session")
        waited = time.monotonic() - started
        assert 0.3 <= waited < 2.0
        async with memory.session_lock("other", timeout=0.3):  # other sessions are unaffected
            pass
    async with memory.session_lock("s", timeout=0.3):  # free again once released
        pass


async def test_a_waiter_gets_the_session_when_it_is_released(memory: Memory) -> None:
    order: list[str] = []

    async def first() -> None:
        async with memory.session_lock("s", timeout=1):
            order.append("first")
            await asyncio.sleep(0.2)

    async def second() -> None:
        await asyncio.sleep(0.05)
        async with memory.session_lock("s", timeout=2):
            order.append("second")

    await asyncio.gather(first(), second())
    assert order == ["first", "second"]


def _at(second: int, state: str = "working", **extra: object) -> dict[str, object]:
    stamp = f"2026-01-01T00:00:{second:02d}.000Z"
    return {"status": {"state": state, "timestamp": stamp}, **extra}


async def test_task_records(memory: Memory) -> None:
    assert await memory.get_task("missing") is None
    for i in range(5):
        await memory.put_task(f"task-{i}", f"ctx-{i % 2}", _at(i, id=f"task-{i}"))
    await memory.put_task("task-1", "ctx-1", _at(1, "completed", id="task-1"))

    assert await memory.get_task("task-1") == _at(1, "completed", id="task-1")
    everything = await memory.list_tasks()
    assert [t["id"] for t in everything.items] == [f"task-{i}" for i in reversed(range(5))]  # newest first
    assert everything.total == 5
    first = await memory.list_tasks(limit=2)
    second = await memory.list_tasks(cursor=first.next_cursor, limit=2)
    third = await memory.list_tasks(cursor=second.next_cursor, limit=2)
    assert [t["id"] for t in first.items + second.items + third.items] == [f"task-{i}" for i in reversed(range(5))]
    assert third.next_cursor is None
    odd = await memory.list_tasks(context_id="ctx-1")
    assert [t["id"] for t in odd.items] == ["task-3", "task-1"]
    assert odd.items[1]["status"]["state"] == "completed"
    assert (await memory.list_tasks(context_id="nobody")).items == []


async def test_tasks_are_listed_by_latest_status_change_with_filters_before_paging(memory: Memory) -> None:
    for i in range(6):
        await memory.put_task(f"task-{i}", "ctx", _at(i, "completed" if i % 2 else "working", id=f"task-{i}"))
    await memory.put_task("task-0", "ctx", _at(9, "completed", id="task-0"))  # changed last: moves to the top

    newest = await memory.list_tasks(context_id="ctx", limit=3)
    assert [t["id"] for t in newest.items] == ["task-0", "task-5", "task-4"]
    completed = await memory.list_tasks(state="completed", limit=2)
    assert [t["id"] for t in completed.items] == ["task-0", "task-5"]
    assert completed.total == 4
    rest = await memory.list_tasks(state="completed", cursor=completed.next_cursor, limit=2)
    assert [t["id"] for t in rest.items] == ["task-3", "task-1"]
    assert rest.next_cursor is None
    assert [t["id"] for t in (await memory.list_tasks(state="working")).items] == ["task-4", "task-2"]
    since = await memory.list_tasks(changed_since=datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC))
    assert [t["id"] for t in since.items] == ["task-0", "task-5", "task-4"]
    assert since.total == 3
    just_after = datetime(2026, 1, 1, 0, 0, 4, 500, tzinfo=UTC)  # half a millisecond after task-4 changed
    assert [t["id"] for t in (await memory.list_tasks(changed_since=just_after)).items] == ["task-0", "task-5"]
    assert (await memory.list_tasks(state="failed")).total == 0
    assert (await memory.list_tasks(state="odd:state")).items == []


async def test_tasks_changed_in_the_same_millisecond_page_without_gaps(memory: Memory) -> None:
    for i in range(7):
        await memory.put_task(f"task-{i}", "ctx", _at(1, id=f"task-{i}"), owner="alice")
    await memory.put_task("untimed", "ctx", {"id": "untimed"}, owner="alice")  # no timestamp: listed last

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await memory.list_tasks(owner="alice", cursor=cursor, limit=3)
        seen += [t["id"] for t in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == [f"task-{i}" for i in reversed(range(7))] + ["untimed"]


async def test_a_bad_task_cursor_is_a_bad_request(memory: Memory) -> None:
    for cursor in ("x", "12", "-1:t", "²:t"):
        with pytest.raises(BadRequestError):
            await memory.list_tasks(cursor=cursor)


async def test_an_evicted_task_leaves_every_listing(make_memory: MakeMemory) -> None:
    memory = make_memory(max_sessions=1)  # keeps 10 tasks
    for i in range(12):
        await memory.put_task(f"task-{i}", f"ctx-{i}", _at(i, "completed", id=f"task-{i}"), owner="alice")

    for listing in (
        await memory.list_tasks(),
        await memory.list_tasks(owner="alice", state="completed"),
    ):
        assert [t["id"] for t in listing.items] == [f"task-{i}" for i in reversed(range(2, 12))]
        assert listing.total == 10
    assert (await memory.list_tasks(context_id="ctx-0")).total == 0


def _task(state: str, answer: str = "") -> dict[str, object]:
    return {"id": "t", "status": {"state": state}, "answer": answer}


async def test_an_ended_task_record_is_kept_against_a_late_writer(memory: Memory) -> None:
    ended = ("completed", "failed", "canceled")
    assert await memory.put_task("t", "ctx", _task("submitted"), unless_state_in=ended)  # nothing stored yet
    assert await memory.put_task("t", "ctx", _task("working"), unless_state_in=ended)
    assert await memory.put_task("t", "ctx", _task("canceled"), unless_state_in=ended)  # the cancel lands first

    assert not await memory.put_task("t", "ctx", _task("completed", "42"), unless_state_in=ended)
    assert await memory.get_task("t") == _task("canceled")
    assert await memory.put_task("t", "ctx", _task("completed", "42"))  # an unconditional write still replaces
    assert await memory.get_task("t") == _task("completed", "42")


async def test_concurrent_finishers_store_exactly_one_ending(memory: Memory) -> None:
    ended = ("completed", "canceled")
    await memory.put_task("t", "ctx", _task("working"))

    stored = await asyncio.gather(
        *(
            memory.put_task("t", "ctx", _task(state, str(i)), unless_state_in=ended)
            for i, state in enumerate(ended * 10)
        )
    )

    assert stored.count(True) == 1
    winner = stored.index(True)
    assert await memory.get_task("t") == _task(ended[winner % 2], str(winner))


async def test_window_keeps_turn_boundaries_and_positions(memory: Memory) -> None:
    await memory.append("s", [MemoryEvent(event_type="error", content="failed turn")])  # no messages: no turn
    first = await store_turn(memory, "s", "one")
    second = await store_turn(memory, "s", "two", tool=True)

    window = await memory.load_window("s", turns=5)
    assert window.summary is None
    assert [turn.messages for turn in window.turns] == [first, second]
    assert [turn.seq for turn in window.turns] == [1, 3]  # the position of each turn's first event
    assert [t.seq for t in (await memory.load_window("s", turns=5, since_seq=2)).turns] == [3]
    assert [t.seq for t in (await memory.load_window("s", turns=1)).turns] == [3]
    assert (await memory.load_window("s", turns=0)).turns == []
    assert await memory.load_window("unknown", turns=5) == (await memory.load_window("unknown", turns=0))


async def test_summaries_are_stored_as_events_and_only_move_forward(memory: Memory) -> None:
    for label in ("one", "two", "three"):
        await store_turn(memory, "s", label)
    first_two = await all_events(memory, "s")

    event = await memory.put_summary("s", "one and two happened", until_seq=4)

    assert event is not None
    assert event.event_type == "summary"
    assert event.content == "one and two happened"
    assert event.metadata == {"until_seq": 4, "through_event_id": first_two[3].event_id}
    assert (await all_events(memory, "s"))[-1] == event
    window = await memory.load_window("s", turns=5)
    assert window.summary is not None
    assert (window.summary.text, window.summary.until_seq, window.summary.event_id) == (
        "one and two happened",
        4,
        event.event_id,
    )
    # a summary covering no more than the stored one (a late or duplicate summariser) changes nothing
    assert await memory.put_summary("s", "stale", until_seq=4) is None
    assert await memory.put_summary("s", "older", until_seq=2) is None
    assert await memory.put_summary("unknown", "nothing", until_seq=1) is None
    assert not await memory.has_session("unknown")
    assert len(await all_events(memory, "s")) == 7
    newer = await memory.put_summary("s", "all three", until_seq=7)
    assert newer is not None
    summary = (await memory.load_window("s", turns=1)).summary
    assert summary is not None
    assert summary.text == "all three"


async def test_a_summary_survives_trimming_and_never_splits_a_turn(make_memory: MakeMemory) -> None:
    memory = make_memory(max_session_events=4)
    await store_turn(memory, "s", "a")
    last = await store_turn(memory, "s", "b")

    await memory.put_summary("s", "a happened", until_seq=2)  # its event pushes out half of turn "a"

    window = await memory.load_window("s", turns=10)
    assert [turn.messages for turn in window.turns] == [last]
    await store_turn(memory, "s", "c")
    await store_turn(memory, "s", "d")  # every event the summary covered is gone; the summary stays
    summary = (await memory.load_window("s", turns=10)).summary
    assert summary is not None
    assert summary.text == "a happened"


async def test_summary_lock_admits_one_summariser_per_session(memory: Memory) -> None:
    async with memory.summary_lock("s", timeout=1):
        with pytest.raises(SessionBusyError):
            async with memory.summary_lock("s", timeout=0):
                pytest.fail("two summarisers at once")
        async with memory.session_lock("s", timeout=0.3):  # requests on the session are not held up
            pass
        async with memory.summary_lock("other", timeout=0):
            pass
    async with memory.summary_lock("s", timeout=0):
        pass


# --- Run logs and leases ------------------------------------------------------------------------


async def collect(memory: Memory, run_id: str, *, after: str | None = None) -> list[RunEvent]:
    return [event async for event in memory.follow_run_events(run_id, after=after)]


async def test_run_log_reads_in_order_from_any_event(memory: Memory) -> None:
    ids = [await memory.append_run_event("r", {"n": n}) for n in range(5)]

    assert len(set(ids)) == 5
    everything = await memory.read_run_events("r")
    assert [(e.id, e.data, e.final) for e in everything] == [(ids[n], {"n": n}, False) for n in range(5)]
    assert [e.data["n"] for e in await memory.read_run_events("r", after=ids[1])] == [2, 3, 4]
    assert [e.data["n"] for e in await memory.read_run_events("r", after=ids[1], limit=2)] == [2, 3]
    assert await memory.read_run_events("r", after=ids[4]) == []
    assert await memory.read_run_events("unknown") == []
    for bad in ("not an id", "²", "-1"):
        with pytest.raises(BadRequestError):
            await memory.read_run_events("r", after=bad)


async def test_run_events_are_appended_in_batches_in_order(memory: Memory) -> None:
    first = await memory.append_run_event("r", {"n": 0})
    ids = await memory.append_run_events("r", [({"n": 1}, False), ({"n": 2}, False), ({"n": 3}, True)])
    assert await memory.append_run_events("r", []) == []

    events = await collect(memory, "r")
    assert [e.id for e in events] == [first, *ids]
    assert [(e.data["n"], e.final) for e in events] == [(0, False), (1, False), (2, False), (3, True)]


async def test_a_follower_gets_missed_then_live_events_without_gap_or_duplicate(memory: Memory) -> None:
    first = await memory.append_run_event("r", {"n": 0})
    await memory.append_run_event("r", {"n": 1})
    followers = [asyncio.create_task(collect(memory, "r", after=first)), asyncio.create_task(collect(memory, "r"))]
    await asyncio.sleep(0)  # the followers have read what was there and wait
    for n in range(2, 40):
        await memory.append_run_event("r", {"n": n})
        if n % 7 == 0:
            await asyncio.sleep(0.01)
    await memory.append_run_event("r", {"n": 40}, final=True)
    await memory.append_run_event("r", {"n": 41})  # after the end: nobody follows it

    from_first, from_start = await asyncio.wait_for(asyncio.gather(*followers), timeout=10)
    assert [e.data["n"] for e in from_first] == list(range(1, 41))
    assert [e.data["n"] for e in from_start] == list(range(41))
    assert [e.final for e in from_start] == [False] * 40 + [True]


async def test_following_an_ended_or_unknown_log_ends(memory: Memory) -> None:
    assert await collect(memory, "unknown") == []
    await memory.append_run_event("r", {"n": 0})
    last = await memory.append_run_event("r", {"n": 1}, final=True)

    assert [e.data["n"] for e in await collect(memory, "r")] == [0, 1]
    with pytest.raises(BadRequestError):
        await collect(memory, "r", after="not an id")
    reader = memory.follow_run_events("r", after=last)  # nothing after the final event: it would wait forever
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(aiter(reader)), timeout=0.3)


async def test_an_ended_run_log_is_deleted_after_its_retention(make_memory: MakeMemory) -> None:
    memory = make_memory(run_log_retention_seconds=0.5)
    await memory.append_run_event("running", {"n": 0})
    await memory.append_run_event("ended", {"n": 0})
    await memory.append_run_event("ended", {"n": 1}, final=True)
    assert len(await memory.read_run_events("ended")) == 2  # readable right after the end

    for _ in range(100):  # up to 10 s
        if not await memory.read_run_events("ended"):
            break
        await asyncio.sleep(0.1)
    assert await memory.read_run_events("ended") == []
    assert await collect(memory, "ended") == []
    assert len(await memory.read_run_events("running")) == 1


async def test_a_lease_has_one_holder_until_released(memory: Memory) -> None:
    assert await memory.acquire_lease("r", "a", ttl_seconds=30)
    assert await memory.acquire_lease("r", "a", ttl_seconds=30)  # the holder again: renewed
    assert not await memory.acquire_lease("r", "b", ttl_seconds=30)
    assert await memory.renew_lease("r", "a", ttl_seconds=30)
    assert not await memory.renew_lease("r", "b", ttl_seconds=30)
    await memory.release_lease("r", "b")  # not b's to release
    assert not await memory.acquire_lease("r", "b", ttl_seconds=30)
    await memory.release_lease("r", "a")
    assert not await memory.renew_lease("r", "a", ttl_seconds=30)
    assert await memory.acquire_lease("r", "b", ttl_seconds=30)
    assert await memory.take_expired_leases() == []


async def test_an_expired_lease_is_taken_once_and_a_released_one_never(memory: Memory) -> None:
    for run_id in ("dead-1", "dead-2", "done"):
        assert await memory.acquire_lease(run_id, "replica-a", ttl_seconds=0.2)
    assert await memory.acquire_lease("alive", "replica-a", ttl_seconds=30)
    await memory.release_lease("done", "replica-a")

    taken: list[str] = []
    deadline = time.monotonic() + 10
    while len(taken) < 2 and time.monotonic() < deadline:
        rounds = await asyncio.gather(*(memory.take_expired_leases() for _ in range(3)))
        taken += [run_id for batch in rounds for run_id in batch]
        await asyncio.sleep(0.05)

    assert sorted(taken) == ["dead-1", "dead-2"]
    assert await memory.take_expired_leases() == []
    assert not await memory.renew_lease("dead-1", "replica-a", ttl_seconds=30)  # too late to renew
    assert await memory.acquire_lease("dead-1", "replica-b", ttl_seconds=30)  # free for another holder


async def test_a_task_step_stores_logs_and_leases_together_unless_the_task_ended(memory: Memory) -> None:
    await memory.put_push_config("t", "hook", {"id": "hook", "url": "http://example.com/"})
    working = {"id": "t", "status": {"state": "working"}}
    step = await memory.put_task_step(
        "t", "ctx", working, events=[({"n": 1}, False), ({"n": 2}, False)], lease_holder="a", lease_seconds=30
    )
    assert step.stored
    assert step.push_configs == [{"id": "hook", "url": "http://example.com/"}]
    assert await memory.get_task("t") == working
    assert [(e.id, e.data) for e in await memory.read_run_events("t")] == list(
        zip(step.event_ids, [{"n": 1}, {"n": 2}], strict=True)
    )
    assert not await memory.acquire_lease("t", "b", ttl_seconds=30)  # a holds it

    await memory.put_task("t", "ctx", {"id": "t", "status": {"state": "canceled"}})
    refused = await memory.put_task_step(
        "t", "ctx", {"id": "t", "status": {"state": "completed"}}, events=[({"n": 3}, True)],
        unless_state_in=("canceled",), lease_holder="a",
    )  # fmt: skip
    assert not refused.stored
    assert refused.current == {"id": "t", "status": {"state": "canceled"}}
    assert len(await memory.read_run_events("t")) == 2  # nothing logged
    assert not await memory.acquire_lease("t", "b", ttl_seconds=30)  # nor the lease given up

    ended = await memory.put_task_step(
        "t", "ctx", {"id": "t", "status": {"state": "completed"}}, events=[({"n": 3}, True)], lease_holder="a"
    )
    assert ended.stored
    assert [e.final for e in await memory.read_run_events("t")] == [False, False, True]
    assert await memory.acquire_lease("t", "b", ttl_seconds=30)  # given up by the step
    assert await memory.take_expired_leases() == []


async def test_a_task_step_moves_the_task_in_the_index_and_keeps_its_first_owner(memory: Memory) -> None:
    await memory.put_task_step("t", "ctx", _at(1, id="t"), owner="alice")
    await memory.put_task_step("other", "ctx", _at(2, id="other"), owner="alice")
    await memory.put_task("t", "ctx", _at(3, "canceled", id="t"))  # no owner given: stays alice's
    refused = await memory.put_task_step("t", "ctx", _at(4, "completed", id="t"), unless_state_in=("canceled",))
    assert not refused.stored

    assert [t["id"] for t in (await memory.list_tasks(owner="alice")).items] == ["t", "other"]
    assert [t["id"] for t in (await memory.list_tasks(owner="alice", state="canceled")).items] == ["t"]
    assert (await memory.list_tasks(state="working")).total == 1
    assert (await memory.list_tasks(state="completed")).total == 0


async def test_the_first_claim_wins(memory: Memory) -> None:
    assert await memory.claim("startup-goal", "replica-a") == "replica-a"
    assert await memory.claim("startup-goal", "replica-b") == "replica-a"
    assert await memory.claim("another", "replica-b") == "replica-b"
    assert await NullMemory().claim("startup-goal", "alone") == "alone"


async def test_the_first_claim_owns_a_session(memory: Memory) -> None:
    assert await memory.session_owner("s") is None
    claims = await asyncio.gather(*(memory.claim_session("s", who) for who in ("alice", "bob") * 5))
    assert len(set(claims)) == 1
    owner = claims[0]
    assert await memory.session_owner("s") == owner
    assert await memory.claim_session("s", "mallory") == owner
    assert await memory.claim_session("s", owner) == owner


async def test_sessions_and_tasks_are_listed_by_owner(make_memory: MakeMemory) -> None:
    memory = make_memory()
    for session, owner in [("a1", "alice"), ("b1", "bob"), ("a2", "alice"), ("nobody", None)]:
        if owner is not None:
            assert await memory.claim_session(session, owner) == owner
        await store_turn(memory, session, session)
        await memory.put_task(f"task-{session}", session, _task("completed"), owner=owner)

    first = await memory.list_sessions(owner="alice", limit=1)
    assert first.items == ["a1"]
    assert first.next_cursor is not None
    rest = await memory.list_sessions(owner="alice", cursor=first.next_cursor, limit=10)
    assert rest.items == ["a2"]
    assert rest.next_cursor is None
    assert (await memory.list_sessions(owner="bob")).items == ["b1"]
    assert (await memory.list_sessions(owner="carol")).items == []
    assert (await memory.list_sessions()).items == ["a1", "b1", "a2", "nobody"]

    alice_tasks = await memory.list_tasks(owner="alice")
    assert len(alice_tasks.items) == 2
    assert len((await memory.list_tasks(owner="bob")).items) == 1
    assert len((await memory.list_tasks()).items) == 4


async def test_an_evicted_session_forgets_its_owner(make_memory: MakeMemory) -> None:
    memory = make_memory(max_sessions=1)
    await memory.claim_session("s1", "alice")
    await store_turn(memory, "s1", "one")
    await store_turn(memory, "s2", "two")  # evicts "s1" (the older one, also on a tie)

    assert await memory.session_owner("s1") is None
    assert (await memory.list_sessions(owner="alice")).items == []
    assert await memory.claim_session("s1", "bob") == "bob"
    await store_turn(memory, "s1", "again")
    assert (await memory.list_sessions(owner="alice")).items == []
    assert (await memory.list_sessions(owner="bob")).items == ["s1"]


async def test_a_paused_run_is_taken_exactly_once(memory: Memory) -> None:
    await memory.put_paused_run("session-1", b"state-1", ttl_seconds=60)
    await memory.put_paused_run("session-1", b"state-2", ttl_seconds=60)  # replaces

    taken = await asyncio.gather(*(memory.take_paused_run("session-1") for _ in range(8)))

    assert sorted(taken, key=lambda state: state or b"") == [None] * 7 + [b"state-2"]
    assert await memory.take_paused_run("session-1") is None
    assert await memory.take_paused_run("never-paused") is None


async def test_peeking_at_a_paused_run_leaves_it_in_place(memory: Memory) -> None:
    await memory.put_paused_run("session-1", b"state", ttl_seconds=60)

    assert await memory.peek_paused_run("session-1") == b"state"
    assert await memory.take_paused_run("session-1") == b"state"
    assert await memory.peek_paused_run("session-1") is None


async def test_a_paused_run_expires(memory: Memory) -> None:
    await memory.put_paused_run("session-1", b"state", ttl_seconds=0.05)
    await memory.put_paused_run("session-2", b"kept", ttl_seconds=60)
    await asyncio.sleep(0.1)

    assert await memory.peek_paused_run("session-1") is None
    assert await memory.take_paused_run("session-1") is None
    assert await memory.take_paused_run("session-2") == b"kept"


async def test_paused_runs_awaiting_approval_are_listed_until_taken_or_expired(memory: Memory) -> None:
    await memory.put_paused_run("a1", b"1", ttl_seconds=30, listed=True, owner="alice")
    await memory.put_paused_run("b1", b"2", ttl_seconds=40, listed=True, owner="bob")
    await memory.put_paused_run("a2", b"3", ttl_seconds=50, listed=True, owner="alice")
    await memory.put_paused_run("client-tools", b"4", ttl_seconds=60)  # not awaiting approval: not listed
    await memory.put_paused_run("soon", b"5", ttl_seconds=0.05, listed=True, owner="alice")
    await asyncio.sleep(0.1)

    first = await memory.list_paused_runs(limit=2)
    assert first.items == ["a1", "b1"]  # soonest expiry first
    assert first.total == 3
    rest = await memory.list_paused_runs(cursor=first.next_cursor, limit=2)
    assert rest.items == ["a2"]
    assert rest.next_cursor is None
    assert (await memory.list_paused_runs(owner="alice")).items == ["a1", "a2"]
    assert (await memory.list_paused_runs(owner="carol")).items == []

    assert await memory.take_paused_run("a1") == b"1"
    await memory.put_paused_run("b1", b"decided", ttl_seconds=40)  # replaced, no longer awaiting
    assert (await memory.list_paused_runs()).items == ["a2"]
    with pytest.raises(BadRequestError):
        await memory.list_paused_runs(cursor="nope")


async def test_replicas_share_paused_runs_and_one_takes_it(make_memory: MakeMemory) -> None:
    first, second = make_memory(), make_memory()
    await first.put_paused_run("session-1", b"state", ttl_seconds=60)

    taken = await asyncio.gather(first.take_paused_run("session-1"), second.take_paused_run("session-1"))

    if isinstance(first, LocalMemory):  # one process, one replica: each LocalMemory is its own store
        assert taken == [b"state", None]
    else:
        assert sorted(taken, key=lambda state: state or b"") == [None, b"state"]


async def test_stored_responses(make_memory: MakeMemory) -> None:
    memory = make_memory()
    await memory.put_response("resp_1", b'{"id": "resp_1"}')

    assert await memory.get_response("resp_1") == b'{"id": "resp_1"}'
    assert await memory.get_response("resp_1") == b'{"id": "resp_1"}'  # reading keeps it
    assert await memory.get_response("resp_2") is None


async def test_push_configs_are_kept_per_task(memory: Memory) -> None:
    assert await memory.list_push_configs("t1") == []
    await memory.put_push_config("t1", "a", {"url": "https://a.example/hook"})
    await memory.put_push_config("t1", "b", {"url": "https://b.example/hook"})
    await memory.put_push_config("t1", "a", {"url": "https://a.example/other"})
    await memory.put_push_config("t2", "a", {"url": "https://c.example/hook"})
    assert await memory.get_push_config("t1", "a") == {"url": "https://a.example/other"}
    assert await memory.get_push_config("t1", "missing") is None
    listed = sorted(config["url"] for config in await memory.list_push_configs("t1"))
    assert listed == ["https://a.example/other", "https://b.example/hook"]
    assert await memory.delete_push_config("t1", "a") is True
    assert await memory.delete_push_config("t1", "a") is False
    assert [config["url"] for config in await memory.list_push_configs("t1")] == ["https://b.example/hook"]
    assert [config["url"] for config in await memory.list_push_configs("t2")] == ["https://c.example/hook"]


async def test_a_push_delivery_is_recorded_once(memory: Memory) -> None:
    assert await memory.push_delivered("t1", "c", "1-0") is False
    marks = await asyncio.gather(*(memory.mark_push_delivered("t1", "c", "1-0") for _ in range(5)))
    assert sorted(marks) == [False, False, False, False, True]
    assert await memory.push_delivered("t1", "c", "1-0") is True
    assert await memory.push_delivered("t1", "c", "2-0") is False
    assert await memory.mark_push_delivered("t1", "c", "2-0") is True
    assert await memory.mark_push_delivered("t1", "other", "1-0") is True
    assert await memory.mark_push_delivered("t2", "c", "1-0") is True
