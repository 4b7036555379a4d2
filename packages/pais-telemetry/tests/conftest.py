"""Each test starts with no OpenTelemetry providers installed and the root logger as it was;
`in_memory` configures telemetry with in-memory exporters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pais_testing.otel_in_memory import InMemory, configure_in_memory, global_telemetry_reset

from pais_core import Settings


@pytest.fixture(autouse=True)
def clean_telemetry() -> Iterator[None]:
    with global_telemetry_reset():
        yield


@pytest.fixture
def in_memory() -> InMemory:
    return configure_in_memory(Settings(agent_name="agent-a", otel_enabled=True))
