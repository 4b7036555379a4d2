"""Fixtures: every backend behind one factory, and a real redis-server per test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pais_testing.redis_server import RedisServer

from pais_memory import LocalMemory, Memory

MakeMemory = Callable[..., Memory]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def make_memory(request: pytest.FixtureRequest) -> AsyncIterator[MakeMemory]:
    """Build memories of the parametrised backend; Redis ones share a fresh key prefix per test."""
    created: list[Memory] = []
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    server: RedisServer | None = request.getfixturevalue("redis_server") if request.param == "redis" else None

    def make(**options: Any) -> Memory:
        if server is None:
            memory: Memory = LocalMemory(**options)
        else:
            from pais_memory import RedisMemory

            memory = RedisMemory.from_url(server.url, key_prefix=prefix, **options)
        created.append(memory)
        return memory

    yield make
    for memory in created:
        await memory.close()


@pytest.fixture
def memory(make_memory: MakeMemory) -> Memory:
    return make_memory()
