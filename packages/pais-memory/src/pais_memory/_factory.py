"""Build the memory backend the settings ask for."""

from __future__ import annotations

from pais_core import Settings

from ._base import Memory
from ._local import LocalMemory
from ._null import NullMemory

__all__ = ["memory_from_settings"]


def memory_from_settings(settings: Settings) -> Memory:
    """Return `LocalMemory`, `RedisMemory` or `NullMemory` per `MEMORY_TYPE`/`MEMORY_ENABLED`."""
    if settings.memory_type == "null":
        return NullMemory(run_log_retention_seconds=settings.run_log_retention_seconds)
    if settings.memory_type == "redis":
        from ._redis import RedisMemory

        assert settings.memory_redis_url is not None  # enforced by Settings.from_env
        return RedisMemory.from_url(
            settings.memory_redis_url,
            max_connections=settings.memory_redis_max_connections,
            key_prefix=settings.redis_key_prefix,
            session_ttl_seconds=settings.memory_session_ttl_seconds,
            max_sessions=settings.memory_max_sessions,
            max_session_events=settings.memory_max_session_events,
            run_log_retention_seconds=settings.run_log_retention_seconds,
        )
    return LocalMemory(
        max_sessions=settings.memory_max_sessions,
        max_session_events=settings.memory_max_session_events,
        run_log_retention_seconds=settings.run_log_retention_seconds,
    )
