"""`LocalMemory`: bounded in-process memory for one replica (development, single pod)."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent, NotFoundError

from ._base import Memory, Page, SessionWindow, StoredTurn, Summary, summary_event
from ._codec import decode_turn_list, decode_turns, encode_turn
from ._local_locks import KeyedLocks
from ._local_paused import InProcessPausedRuns, InProcessResponses
from ._local_runs import InProcessRuns
from ._local_tasks import InProcessTasks, offset_page, parse_offset

__all__ = ["LocalMemory"]


@dataclass
class _Session:
    events: deque[tuple[int, MemoryEvent]]
    turns: deque[tuple[int, bytes]]  # (sequence number of the turn's first event, encoded messages)
    next_seq: int = 0
    summary: Summary | None = None


class LocalMemory(InProcessTasks, InProcessRuns, InProcessPausedRuns, InProcessResponses, Memory):
    """Sessions kept in this process.

    Bounded: at most `max_sessions` sessions (the least recently written is dropped) and
    `max_session_events` events per session (the oldest are dropped). A stored turn is replayed
    only while every event stored with it is kept, so history never splits a turn. Task records
    and run logs: at most `10 * max_sessions` each; an ended run's log is deleted
    `run_log_retention_seconds` after its final event.
    """

    def __init__(
        self, *, max_sessions: int = 1000, max_session_events: int = 500, run_log_retention_seconds: float = 3600.0
    ) -> None:
        self._max_sessions = max_sessions
        self._max_events = max_session_events
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._order: list[str] = []
        self._owners: dict[str, str] = {}
        self._locks = KeyedLocks()
        self._summary_locks = KeyedLocks()
        self._init_tasks(max_sessions * 10)
        self._init_runs(max_sessions * 10, run_log_retention_seconds)
        self._init_paused(max_sessions * 10)
        self._init_responses(max_sessions * 10)

    async def load_history(self, session_id: str, *, turns: int) -> list[ModelMessage]:
        session = self._sessions.get(session_id)
        if session is None or turns <= 0:
            return []
        recent = list(session.turns)[-turns:]
        return decode_turns(turn for _, turn in recent)

    async def load_window(self, session_id: str, *, turns: int, since_seq: int = 0) -> SessionWindow:
        session = self._sessions.get(session_id)
        if session is None:
            return SessionWindow(summary=None, turns=[])
        recent = [(seq, turn) for seq, turn in list(session.turns)[-turns:] if seq >= since_seq] if turns > 0 else []
        decoded = decode_turn_list([turn for _, turn in recent])
        stored = [StoredTurn(seq=seq, messages=messages) for (seq, _), messages in zip(recent, decoded, strict=True)]
        return SessionWindow(summary=session.summary, turns=stored)

    async def put_summary(self, session_id: str, text: str, *, until_seq: int) -> MemoryEvent | None:
        session = self._sessions.get(session_id)
        if session is None or (session.summary is not None and session.summary.until_seq >= until_seq):
            return None
        covered = [event for seq, event in session.events if seq < until_seq]
        event = summary_event(text, until_seq, covered[-1].event_id if covered else None)
        await self.append(session_id, [event])
        session.summary = Summary(text=text, until_seq=until_seq, event_id=event.event_id)
        return event

    def summary_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        return self._summary_locks.hold(session_id, timeout=timeout)

    async def append(
        self, session_id: str, events: Sequence[MemoryEvent], messages: Sequence[ModelMessage] = ()
    ) -> None:
        turn = encode_turn(messages) if messages else None
        session = self._sessions.get(session_id)
        if session is None:
            session = _Session(events=deque(maxlen=self._max_events), turns=deque(maxlen=self._max_events))
            self._sessions[session_id] = session
            self._order.append(session_id)
            self._evict()
        else:
            self._sessions.move_to_end(session_id)
        first = session.next_seq
        for event in events:
            session.events.append((session.next_seq, event))
            session.next_seq += 1
        if turn is not None:
            session.turns.append((first, turn))
        oldest = session.events[0][0] if session.events else session.next_seq
        while session.turns and session.turns[0][0] < oldest:
            session.turns.popleft()

    def _evict(self) -> None:
        while len(self._sessions) > self._max_sessions:
            stale, _ = self._sessions.popitem(last=False)
            self._order.remove(stale)
            self._owners.pop(stale, None)

    async def has_session(self, session_id: str) -> bool:
        return session_id in self._sessions

    async def list_sessions(
        self, *, cursor: str | None = None, limit: int = 100, owner: str | None = None
    ) -> Page[str]:
        listed = self._order if owner is None else [s for s in self._order if self._owners.get(s) == owner]
        return offset_page(listed, cursor, limit)

    async def claim_session(self, session_id: str, owner: str) -> str:
        return self._owners.setdefault(session_id, owner)

    async def session_owner(self, session_id: str) -> str | None:
        return self._owners.get(session_id)

    async def get_events(self, session_id: str, *, cursor: str | None = None, limit: int = 100) -> Page[MemoryEvent]:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFoundError(f"session {session_id!r} not found")
        after = parse_offset(cursor)
        selected = [(seq, event) for seq, event in session.events if seq >= after][:limit]
        more = bool(selected) and selected[-1][0] < session.next_seq - 1
        next_cursor = str(selected[-1][0] + 1) if more else None
        return Page(
            items=[event for _, event in selected],
            total=len(session.events),
            next_cursor=next_cursor,
        )

    def session_lock(self, session_id: str, *, timeout: float) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(session_id, timeout=timeout)
