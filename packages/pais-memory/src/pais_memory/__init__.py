"""PAIS memory: per-session event logs and native message history for Pydantic AI agents."""

from typing import TYPE_CHECKING, Any

from ._base import Memory, Page, RunEvent, SessionWindow, StoredTurn, Summary, TaskStep
from ._factory import memory_from_settings
from ._local import LocalMemory
from ._null import NullMemory

if TYPE_CHECKING:
    from ._redis import RedisMemory

__all__ = [
    "LocalMemory",
    "Memory",
    "NullMemory",
    "Page",
    "RedisMemory",
    "RunEvent",
    "SessionWindow",
    "StoredTurn",
    "Summary",
    "TaskStep",
    "memory_from_settings",
]


def __getattr__(name: str) -> Any:
    if name == "RedisMemory":  # imported lazily: it needs the optional `redis` extra
        from ._redis import RedisMemory

        return RedisMemory
    raise AttributeError(f"module 'pais_memory' has no attribute {name!r}")
