"""In-process A2A task records, shared by the memories that live in one process."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pais_core import BadRequestError

from ._base import Page

__all__ = ["InProcessTasks", "offset_page", "parse_offset"]


class InProcessTasks:
    """Mixin giving a memory A2A task records kept in this process, in insertion order.

    Bounded to `max_tasks`, oldest dropped first; call `_init_tasks` from `__init__`.
    """

    _tasks: dict[str, tuple[str, dict[str, Any], str | None]]
    _max_tasks: int
    _claims: dict[str, str]
    _push_configs: dict[str, dict[str, dict[str, Any]]]
    _push_claims: dict[str, set[tuple[str, str]]]

    def _init_tasks(self, max_tasks: int) -> None:
        self._tasks = {}
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
        self._tasks[task_id] = (context_id, task, owner if stored is None else stored[2] or owner)
        while len(self._tasks) > self._max_tasks:
            dropped = next(iter(self._tasks))
            del self._tasks[dropped]
            self._push_configs.pop(dropped, None)
            self._push_claims.pop(dropped, None)
        return True

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
        cursor: str | None = None,
        limit: int = 100,
        owner: str | None = None,
    ) -> Page[dict[str, Any]]:
        if context_id is not None:
            tasks = [task for ctx, task, _ in self._tasks.values() if ctx == context_id]
        else:
            tasks = [task for _, task, by in self._tasks.values() if owner is None or by == owner]
        return offset_page(tasks, cursor, limit)


def task_state(record: dict[str, Any]) -> str | None:
    """The `status.state` of an A2A task record (None when it has none)."""
    status = record.get("status")
    return status.get("state") if isinstance(status, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]


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
