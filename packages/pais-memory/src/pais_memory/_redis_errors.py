"""Turning Redis outages into `DependencyUnavailableError`."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

from redis import exceptions as redis_exceptions

from pais_core import DependencyUnavailableError

__all__ = ["redis_unavailable"]

# Errors that mean "Redis cannot serve right now", as opposed to a bug in the request.
_OUTAGES = (
    redis_exceptions.ConnectionError,  # refused, reset, authentication, still loading its data
    redis_exceptions.TimeoutError,
    redis_exceptions.ReadOnlyError,  # talking to a replica during failover
    redis_exceptions.OutOfMemoryError,
)


@contextmanager
def redis_unavailable(where: str) -> Generator[None]:
    """Re-raise Redis outages inside the block as `DependencyUnavailableError("redis", ...)`."""
    try:
        yield
    except _OUTAGES as exc:
        raise DependencyUnavailableError("redis", f"Redis memory at {where} is unavailable: {exc}") from exc
