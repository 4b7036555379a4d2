"""In-process paused runs and stored responses, shared by the memories that live in one process."""

from __future__ import annotations

import time
from collections import OrderedDict

from ._base import Page
from ._local_tasks import parse_score_cursor

__all__ = ["InProcessPausedRuns", "InProcessResponses"]


class InProcessPausedRuns:
    """Mixin giving a memory paused-run records kept in this process.

    Bounded to `max_paused` records, oldest dropped first; expired records are never returned.
    Listing sorts the listed records (those awaiting approval, few) on each call.
    Call `_init_paused` from `__init__`.
    """

    _paused: OrderedDict[str, tuple[float, bytes]]
    _listed: dict[str, str | None]
    _max_paused: int

    def _init_paused(self, max_paused: int) -> None:
        self._paused = OrderedDict()
        self._listed = {}
        self._max_paused = max_paused

    async def put_paused_run(
        self, key: str, state: bytes, *, ttl_seconds: float, listed: bool = False, owner: str | None = None
    ) -> None:
        self._paused.pop(key, None)
        self._listed.pop(key, None)
        self._paused[key] = (time.monotonic() + ttl_seconds, state)
        if listed:
            self._listed[key] = owner
        while len(self._paused) > self._max_paused:
            dropped, _ = self._paused.popitem(last=False)
            self._listed.pop(dropped, None)

    async def list_paused_runs(
        self, *, owner: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        position = parse_score_cursor(cursor)
        now = time.monotonic()
        rows = sorted(
            (int(self._paused[key][0] * 1000), key)
            for key, by in self._listed.items()
            if self._paused[key][0] > now and (owner is None or by == owner)
        )
        after = [row for row in rows if position is None or row > position]
        page = after[: max(limit, 1)]
        next_cursor = f"{page[-1][0]}:{page[-1][1]}" if len(after) > len(page) else None
        return Page(items=[key for _, key in page], total=len(rows), next_cursor=next_cursor)

    async def peek_paused_run(self, key: str) -> bytes | None:
        record = self._paused.get(key)
        return None if record is None or record[0] <= time.monotonic() else record[1]

    async def take_paused_run(self, key: str) -> bytes | None:
        # no await between reading and removing: concurrent takers in this process cannot both get it
        record = self._paused.pop(key, None)
        self._listed.pop(key, None)
        if record is None or record[0] <= time.monotonic():
            return None
        return record[1]


class InProcessResponses:
    """Mixin giving a memory stored response records kept in this process, oldest dropped first.

    Call `_init_responses` from `__init__`.
    """

    _responses: OrderedDict[str, bytes]
    _max_responses: int

    def _init_responses(self, max_responses: int) -> None:
        self._responses = OrderedDict()
        self._max_responses = max_responses

    async def put_response(self, response_id: str, record: bytes) -> None:
        self._responses[response_id] = record
        while len(self._responses) > self._max_responses:
            self._responses.popitem(last=False)

    async def get_response(self, response_id: str) -> bytes | None:
        return self._responses.get(response_id)
