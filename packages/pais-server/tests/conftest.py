"""Fixtures: PAIS apps served on loopback against a scripted model server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import ScriptedModelServer
from pais_testing.threaded_server import ThreadedServer
from pydantic_ai.agent import AbstractAgent

from pais_core import Settings
from pais_server import create_app


class Served:
    """A PAIS app running on loopback with an OpenAI client and a raw HTTP client."""

    def __init__(self, server: ThreadedServer) -> None:
        self.server = server
        self.url = server.base_url
        self.openai = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def events(self, session_id: str) -> list[dict[str, Any]]:
        response = self.http.get("/memory/events", params={"session_id": session_id, "limit": 1000})
        response.raise_for_status()
        return response.json()["events"]


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    """A Redis server shared by the tests of one module."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def scripted_model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


ServeFactory = Callable[..., Served]


@pytest.fixture
def serve_pais() -> Iterator[ServeFactory]:
    """Start `create_app(settings, agent)` on a free port; stopped after the test."""
    with ExitStack() as stack:

        def start(agent: AbstractAgent[Any, Any] | None = None, **settings: Any) -> Served:
            settings.setdefault("agent_name", "test-agent")
            # Scripted models call tools natively but are not scripted to answer the auto-mode probe.
            settings.setdefault("tool_call_mode", "native")
            server = stack.enter_context(ThreadedServer(create_app(Settings(**settings), agent)))
            served = Served(server)
            stack.callback(served.http.close)
            stack.callback(served.openai.close)
            return served

        yield start


@pytest.fixture
def pais(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> Served:
    """PAIS with local memory, talking to the scripted model over HTTP."""
    return serve_pais(model_api_url=scripted_model.url, model_name="scripted")
