"""In-process A2A task records, shared by the memories that live in one process."""

from __future__ import annotations

import math
import re
from bisect import bisect_left, insort
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from pais_core import BadRequestError

from ._base import Page

_STATE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

__all__ = [
    "InProcessTasks",
    "epoch_ms",
    "index_name",
    "index_names",
    "index_state",
    "offset_page",
    "parse_offset",
    "parse_score_cursor",
    "status_score",
]


class InProcessTasks:
    """Mixin giving a memory A2A task records kept in this process.

    Bounded to `max_tasks`, oldest dropped first; call `_init_tasks` from `__init__`. Indexed like
    Redis (`index_names`): a sorted list of `(status score, task id)` per scope and state.
    """

    _tasks: dict[str, tuple[str, dict[str, Any], str | None]]
    _index: dict[str, list[tuple[int, str]]]
    _indexed: dict[str, tuple[int, list[str]]]
    _max_tasks: int
    _claims: dict[str, str]
    _push_configs: dict[str, dict[str, dict[str, Any]]]
    _push_claims: dict[str, set[tuple[str, str]]]

    def _init_tasks(self, max_tasks: int) -> None:
        self._tasks = {}
        self._index = {}
        self._indexed = {}
        self._max_tasks = max_tasks
        self._claims = {}
        self._push_configs = {}
        self._push_claims = {}

    async def claim(self, name: str, value: str) -> str:
        return self._claims.setdefault(name, value)

    async def put_task(
        self,
        task_id: str,
        context_id: str,
        task: dict[str, Any],
        *,
        unless_state_in: Collection[str] = (),
        owner: str | None = None,
    ) -> bool:
        stored = self._tasks.get(task_id)
        if stored is not None and task_state(stored[1]) in unless_state_in:
            return False
        owner = owner if stored is None else stored[2] or owner
        self._tasks[task_id] = (context_id, task, owner)
        self._unindex(task_id)
        score = status_score(task)
        names = index_names(context_id, owner, index_state(task_state(task)))
        for name in names:
            insort(self._index.setdefault(name, []), (score, task_id))
        self._indexed[task_id] = (score, names)
        while len(self._tasks) > self._max_tasks:
            dropped = next(iter(self._tasks))
            del self._tasks[dropped]
            self._unindex(dropped)
            self._push_configs.pop(dropped, None)
            self._push_claims.pop(dropped, None)
        return True

    def _unindex(self, task_id: str) -> None:
        indexed = self._indexed.pop(task_id, None)
        if indexed is None:
            return
        score, names = indexed
        for name in names:
            listed = self._index[name]
            del listed[bisect_left(listed, (score, task_id))]
            if not listed:
                del self._index[name]

    async def put_push_config(self, task_id: str, config_id: str, config: dict[str, Any]) -> None:
        self._push_configs.setdefault(task_id, {})[config_id] = config

    async def get_push_config(self, task_id: str, config_id: str) -> dict[str, Any] | None:
        return self._push_configs.get(task_id, {}).get(config_id)

    async def list_push_configs(self, task_id: str) -> list[dict[str, Any]]:
        return list(self._push_configs.get(task_id, {}).values())

    async def delete_push_config(self, task_id: str, config_id: str) -> bool:
        return self._push_configs.get(task_id, {}).pop(config_id, None) is not None

    async def mark_push_delivered(self, task_id: str, config_id: str, event_id: str) -> bool:
        delivered = self._push_claims.setdefault(task_id, set())
        if (config_id, event_id) in delivered:
            return False
        delivered.add((config_id, event_id))
        return True

    async def push_delivered(self, task_id: str, config_id: str, event_id: str) -> bool:
        return (config_id, event_id) in self._push_claims.get(task_id, set())

    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        record = self._tasks.get(task_id)
        return None if record is None else record[1]

    async def list_tasks(
        self,
        *,
        context_id: str | None = None,
        owner: str | None = None,
        state: str | None = None,
        changed_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[dict[str, Any]]:
        position = parse_score_cursor(cursor)
        name = index_name(context_id, owner, state)
        listed = self._index.get(name, []) if name is not None else []
        lowest = bisect_left(listed, (epoch_ms(changed_since, round_up=True), ""))
        end = len(listed) if position is None else max(bisect_left(listed, position), lowest)
        start = max(end - max(limit, 1), lowest)
        chunk = listed[start:end][::-1]
        items = [self._tasks[task_id][1] for _, task_id in chunk]
        next_cursor = f"{chunk[-1][0]}:{chunk[-1][1]}" if start > lowest else None
        return Page(items=items, total=len(listed) - lowest, next_cursor=next_cursor)


def task_state(record: dict[str, Any]) -> str | None:
    """The `status.state` of an A2A task record (None when it has none)."""
    status = record.get("status")
    return status.get("state") if isinstance(status, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]


def status_score(record: dict[str, Any]) -> int:
    """When a task record's status last changed, in epoch milliseconds (0 without a readable timestamp)."""
    status = record.get("status")
    timestamp = status.get("timestamp") if isinstance(status, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    try:
        changed = datetime.fromisoformat(timestamp if isinstance(timestamp, str) else "")
    except ValueError:
        return 0
    return epoch_ms(changed)


def epoch_ms(moment: datetime | None, *, round_up: bool = False) -> int:
    """`moment` in epoch milliseconds, rounded down (or up) (naive: UTC; None or before 1970: 0)."""
    if moment is None:
        return 0
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    millis = aware.timestamp() * 1000
    return max(math.ceil(millis) if round_up else math.floor(millis), 0)


def index_state(state: str | None) -> str:
    """The state a task is indexed under: '' (none) unless a plain token like `input-required`."""
    return state if state is not None and _STATE_TOKEN.match(state) else ""


def index_names(context_id: str, owner: str | None, state: str) -> list[str]:
    """The index sets listing a task (mirrors `index_keys` of the Redis scripts)."""
    scopes = ["all", f"c:{context_id}", *([f"o:{owner}"] if owner else [])]
    return [f"{s}:{scope}" for scope in scopes for s in ("*", *([state] if state else []))]


def index_name(context_id: str | None, owner: str | None, state: str | None) -> str | None:
    """The index set a listing reads (None: a state no task is indexed under)."""
    scope = f"c:{context_id}" if context_id is not None else f"o:{owner}" if owner is not None else "all"
    if state is None:
        return f"*:{scope}"
    return f"{state}:{scope}" if index_state(state) else None


def parse_score_cursor(cursor: str | None) -> tuple[int, str] | None:
    """Decode a `<score>:<id>` listing cursor (None or empty: from the start); reject garbage."""
    if cursor is None or cursor == "":
        return None
    score, sep, member = cursor.partition(":")
    if not (sep and member and score.isascii() and score.isdigit()):
        raise BadRequestError(f"invalid cursor {cursor!r}")
    return int(score), member


def offset_page(items: list[Any], cursor: str | None, limit: int) -> Page[Any]:
    """Slice `items` at an offset cursor."""
    start = parse_offset(cursor)
    chunk = items[start : start + limit]
    end = start + len(chunk)
    return Page(items=chunk, total=len(items), next_cursor=str(end) if end < len(items) else None)


def parse_offset(cursor: str | None) -> int:
    """Decode a non-negative integer cursor (an offset, sequence number or score); reject garbage.

    At most 18 digits (every cursor given fits a signed 64-bit integer; `int` refuses over 4300 digits).
    """
    if cursor is None or cursor == "":
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):  # `isdigit` alone accepts '²'
        raise BadRequestError(f"invalid cursor {cursor[:40]!r}")
    return int(cursor)
