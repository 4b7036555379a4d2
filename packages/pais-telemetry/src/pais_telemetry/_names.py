"""Names of the spans, metrics and attributes PAIS emits itself (the README lists everything emitted)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "A2A_CONTEXT_ID",
    "A2A_TASK_ID",
    "A2A_TASK_SPAN",
    "A2A_TASK_STATE",
    "INSTRUMENTATION_SCOPE",
    "KAOS_MEMORY_DURATION",
    "MEMORY_BACKEND",
    "MEMORY_DURATION_MS",
    "MEMORY_OPERATION",
    "UNTRACED_PATHS",
    "is_untraced",
    "untraced_requests",
]

INSTRUMENTATION_SCOPE = "pais"
"""Tracer and meter name of the spans and metrics PAIS itself creates."""

A2A_TASK_SPAN = "a2a.task"
"""Span of one A2A task run on the server, child of the request that created the task."""
A2A_TASK_ID = "a2a.task.id"
A2A_CONTEXT_ID = "a2a.context.id"
"""The task's `contextId` (the memory session)."""
A2A_TASK_STATE = "a2a.task.state"
"""The task's final state: `completed`, `failed` or `canceled`."""

KAOS_MEMORY_DURATION = "kaos.memory.duration"
"""Histogram (s) of memory backend operations, by `kaos.memory.operation` and `kaos.memory.backend`."""
MEMORY_OPERATION = "kaos.memory.operation"
MEMORY_BACKEND = "kaos.memory.backend"
MEMORY_DURATION_MS = "kaos.memory.duration_ms"
"""Duration (ms) of the operation on its `memory.<operation>` span event."""
ERROR_TYPE = "error.type"

UNTRACED_PATHS = frozenset({"/health", "/ready", "/.well-known/agent-card.json", "/.well-known/agent.json"})
"""Probe and agent-card paths: no span, no request metrics."""


def is_untraced(scope: Mapping[str, Any]) -> bool:
    """FastAPI's `telemetry={"exclude": is_untraced}`: probes and the agent card get no span and no metrics."""
    return scope.get("path") in UNTRACED_PATHS


def untraced_requests(excluded_urls: str | None = None) -> Callable[[Mapping[str, Any]], bool]:
    """`is_untraced`, plus the requests whose path matches one of `excluded_urls`.

    Args:
        excluded_urls: `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`: comma-separated regular expressions,
            each searched in the request path (as opentelemetry-instrumentation-fastapi reads them).

    Raises:
        re.error: a pattern is not a valid regular expression.
    """
    patterns = [part.strip() for part in (excluded_urls or "").split(",") if part.strip()]
    if not patterns:
        return is_untraced
    with warnings.catch_warnings():  # `re` warns (FutureWarning) about some valid patterns
        warnings.simplefilter("ignore")
        excluded = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))

    def untraced(scope: Mapping[str, Any]) -> bool:
        path = scope.get("path", "")
        return path in UNTRACED_PATHS or excluded.search(path) is not None

    return untraced
