from __future__ import annotations

from collections.abc import Iterator

import pytest
from pais_testing.fake_agents import FakeSubAgent


@pytest.fixture
def chat_agent() -> Iterator[FakeSubAgent]:
    """A sub-agent that offers chat completions only (its card names no A2A interface)."""
    with FakeSubAgent("worker-a", description="Researches facts about planets.") as agent:
        yield agent


@pytest.fixture
def a2a_agent() -> Iterator[FakeSubAgent]:
    """A sub-agent whose card offers A2A 0.3 JSON-RPC."""
    with FakeSubAgent("worker-b", description="Writes haiku.", a2a="0.3") as agent:
        yield agent
