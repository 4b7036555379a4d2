"""PAIS telemetry: one-call OpenTelemetry setup (traces, metrics, logs) for Pydantic AI agent servers.

`configure(settings)` installs the SDK providers once and correlates logs; FastAPI's native
telemetry then traces HTTP requests (`FastAPI(telemetry={"exclude": is_untraced, ...})`);
`agent_capabilities(agent)` gives Pydantic AI's agent, model and tool spans.
Libraries that only emit spans or metrics use `opentelemetry-api` directly and need none of this.
"""

from ._config import Telemetry, configure, current_telemetry
from ._instruments import memory_operation, pais_tracer
from ._logging import TEXT_LOG_FORMAT, JsonLogFormatter, TraceContextFilter, configure_logging
from ._names import (
    A2A_CONTEXT_ID,
    A2A_TASK_ID,
    A2A_TASK_SPAN,
    A2A_TASK_STATE,
    INSTRUMENTATION_SCOPE,
    KAOS_MEMORY_DURATION,
    MEMORY_BACKEND,
    MEMORY_DURATION_MS,
    MEMORY_OPERATION,
    UNTRACED_PATHS,
    is_untraced,
    untraced_requests,
)
from ._pydantic_ai import agent_capabilities, record_token_usage

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
    "TEXT_LOG_FORMAT",
    "UNTRACED_PATHS",
    "JsonLogFormatter",
    "Telemetry",
    "TraceContextFilter",
    "agent_capabilities",
    "configure",
    "configure_logging",
    "current_telemetry",
    "is_untraced",
    "memory_operation",
    "pais_tracer",
    "record_token_usage",
    "untraced_requests",
]
