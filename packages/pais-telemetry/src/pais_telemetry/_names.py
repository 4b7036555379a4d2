"""Names of the spans, metrics and attributes PAIS emits itself (the README lists everything emitted)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "INSTRUMENTATION_SCOPE",
    "KAOS_MEMORY_DURATION",
    "MEMORY_BACKEND",
    "MEMORY_OPERATION",
    "UNTRACED_PATHS",
    "is_untraced",
]

INSTRUMENTATION_SCOPE = "pais"
"""Tracer and meter name of the spans and metrics PAIS itself creates."""

KAOS_MEMORY_DURATION = "kaos.memory.duration"
"""Histogram (s) of memory backend operations, by `kaos.memory.operation` and `kaos.memory.backend`."""
MEMORY_OPERATION = "kaos.memory.operation"
MEMORY_BACKEND = "kaos.memory.backend"

UNTRACED_PATHS = frozenset({"/health", "/ready", "/.well-known/agent-card.json", "/.well-known/agent.json"})
"""Probe and agent-card paths: no span, no request metrics."""


def is_untraced(scope: Mapping[str, Any]) -> bool:
    """FastAPI's `telemetry={"exclude": is_untraced}`: probes and the agent card get no span and no metrics."""
    return scope.get("path") in UNTRACED_PATHS
