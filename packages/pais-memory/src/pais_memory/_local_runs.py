"""In-process run logs and leases, shared by the memories that live in one process."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ._base import RunEvent
from ._local_tasks import parse_offset

__all__ = ["InProcessRuns"]


@dataclass(eq=False)
class _RunLog:
    events: list[RunEvent] = field(default_factory=list[RunEvent])
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set (and replaced) on every append and when the log is dropped: followers wait on it."""
    expires_at: float | None = None
    """When an ended log is deleted (`time.monotonic()`), None while the run goes on."""

    def wake(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class InProcessRuns:
    """Mixin giving a memory run logs and leases kept in this process.

    Event ids are `1`, `2`, ... per log. At most `max_runs` logs are kept (the oldest dropped
    first); an ended log is deleted `retention_seconds` after its final event. Call `_init_runs`
    from `__init__`.
    """

    _run_logs: OrderedDict[str, _RunLog]
    _leases: dict[str, tuple[str, float]]
    _max_runs: int
    _run_retention: float

    def _init_runs(self, max_runs: int, retention_seconds: float) -> None:
        self._run_logs = OrderedDict()
        self._leases = {}
        self._max_runs = max_runs
        self._run_retention = retention_seconds

    def _purge_runs(self) -> None:
        now = time.monotonic()
        ended = [
            run_id for run_id, log in self._run_logs.items() if log.expires_at is not None and log.expires_at <= now
        ]
        for run_id in ended:
            self._run_logs.pop(run_id).wake()
        while len(self._run_logs) > self._max_runs:
            self._run_logs.popitem(last=False)[1].wake()

    async def append_run_event(self, run_id: str, data: dict[str, Any], *, final: bool = False) -> str:
        self._purge_runs()
        log = self._run_logs.get(run_id)
        if log is None:
            log = self._run_logs[run_id] = _RunLog()
            self._purge_runs()
        event = RunEvent(id=str(len(log.events) + 1), data=data, final=final)
        log.events.append(event)
        if final:
            log.expires_at = time.monotonic() + self._run_retention
        log.wake()
        return event.id

    async def read_run_events(self, run_id: str, *, after: str | None = None, limit: int = 100) -> list[RunEvent]:
        start = parse_offset(after)
        self._purge_runs()
        log = self._run_logs.get(run_id)
        return [] if log is None else log.events[start : start + max(limit, 0)]

    async def follow_run_events(self, run_id: str, *, after: str | None = None) -> AsyncIterator[RunEvent]:
        seen = parse_offset(after)
        self._purge_runs()
        while (log := self._run_logs.get(run_id)) is not None:
            changed = log.changed
            for event in log.events[seen:]:
                seen += 1
                yield event
                if event.final:
                    return
            if self._run_logs.get(run_id) is log and len(log.events) == seen:
                await changed.wait()

    async def acquire_lease(self, run_id: str, holder: str, *, ttl_seconds: float) -> bool:
        now = time.monotonic()
        current = self._leases.get(run_id)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[run_id] = (holder, now + ttl_seconds)
        return True

    async def renew_lease(self, run_id: str, holder: str, *, ttl_seconds: float) -> bool:
        now = time.monotonic()
        current = self._leases.get(run_id)
        if current is None or current[0] != holder or current[1] <= now:
            return False
        self._leases[run_id] = (holder, now + ttl_seconds)
        return True

    async def release_lease(self, run_id: str, holder: str) -> None:
        current = self._leases.get(run_id)
        if current is not None and (current[0] == holder or current[1] <= time.monotonic()):
            del self._leases[run_id]

    async def take_expired_leases(self, *, limit: int = 100) -> list[str]:
        now = time.monotonic()
        expired = [run_id for run_id, (_, until) in self._leases.items() if until <= now][: max(limit, 0)]
        for run_id in expired:
            del self._leases[run_id]
        return expired
