"""Each test starts with no OpenTelemetry providers installed and the root logger as it was;
`in_memory` configures telemetry with in-memory exporters."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import _logs, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once
from pais_testing.otel_in_memory import InMemory, configure_in_memory

from pais_core import Settings
from pais_telemetry import current_telemetry


def _forget_global_providers() -> None:
    # The API allows setting each global provider once per process; tests need a clean slate.
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # pyright: ignore[reportPrivateUsage]
    trace._TRACER_PROVIDER = None  # pyright: ignore[reportPrivateUsage]
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()  # pyright: ignore[reportPrivateUsage]
    metrics_internal._METER_PROVIDER = None  # pyright: ignore[reportPrivateUsage]
    _logs._internal._LOGGER_PROVIDER_SET_ONCE = Once()  # pyright: ignore[reportPrivateUsage]
    _logs._internal._LOGGER_PROVIDER = None  # pyright: ignore[reportPrivateUsage]


@pytest.fixture(autouse=True)
def clean_telemetry() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    _forget_global_providers()
    yield
    telemetry = current_telemetry()
    if telemetry is not None:
        telemetry.shutdown(timeout=5)
    _forget_global_providers()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def in_memory() -> InMemory:
    return configure_in_memory(Settings(agent_name="agent-a", otel_enabled=True))
