"""`LocalMemory`: bounded in-process memory for one replica (development, single pod)."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage

from pais_core import MemoryEvent, NotFoundError

from ._base import Memory, Page
from ._codec import decode_turns, encode_turn
from ._local_locks import KeyedLocks
from ._local_paused import InProcessPausedRuns, InProcessResponses
from ._local_tasks import InProcessTasks, parse_offset

__all__ = ["LocalMemory"]


@dataclass
class _Session:
    events: deque[tuple[int, MemoryEvent]]
    turns: deque[tuple[int, bytes]]  # (sequence number of the turn's first event, encoded messages)
    next_seq: int = 0


class LocalMemory(InProcessTasks, InProcessPausedRuns, InProcessResponses, Memory):
    """Sessions kept in this process.

    Bounded: at most `max_sessions` sessions (the least recently written is dropped) and
    `max_session_events` events per session (the oldest are dropped). A stored turn is replayed
    only while every event stored with it is kept, so history never splits a turn.
    """

    def __init__(self, *, max_sessions: int = 1000, max_session_events: int = 500) -> None:
        self._max_sessions = max_sessions
        self._max_events = max_session_events
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._order: list[str] = []
        self._locks = KeyedLocks()
        self._init_tasks(max_sessions * 10)
        self._init_paused(max_sessions * 10)
        self._init_responses(max_sessions * 10)

    async def load_history(self, session_id: str, *, turns: int) -> list[ModelMessage]:
        session = self._sessions.get(session_id)
        if session is None or turns <= 0:
            return []
        recent = list(session.turns)[-turns:]
        return decode_turns(turn for _, turn in recent)

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

    async def has_session(self, session_id: str) -> bool:
        return session_id in self._sessions

    async def list_sessions(self, *, cursor: str | None = None, limit: int = 100) -> Page[str]:
        start = parse_offset(cursor)
        chunk = self._order[start : start + limit]
        end = start + len(chunk)
        return Page(
            items=chunk,
            total=len(self._order),
            next_cursor=str(end) if end < len(self._order) else None,
        )

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
