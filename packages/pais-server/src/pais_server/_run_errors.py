"""Map what an agent run can raise to `PaisError`s with the right HTTP status."""

from __future__ import annotations

from typing import ClassVar

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRequestTimeout,
    ModelTimeoutError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)

from pais_core import (
    DependencyUnavailableError,
    ModelAPIFailedError,
    PaisError,
    UpstreamTimeoutError,
)

__all__ = ["AgentStepLimitError", "ServerBusyError", "to_pais_error"]


class AgentStepLimitError(PaisError):
    """The agent did not finish within `AGENTIC_LOOP_MAX_STEPS` model requests."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    code: ClassVar[str] = "max_steps_exceeded"


class ServerBusyError(PaisError):
    """This replica already runs `MAX_CONCURRENT_RUNS` agent runs; the client should retry shortly."""

    status_code: ClassVar[int] = 503
    error_type: ClassVar[str] = "service_unavailable"
    code: ClassVar[str] = "server_busy"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


def to_pais_error(exc: BaseException, *, max_steps: int, request_timeout: float) -> PaisError:
    """Translate `exc` into the error the client sees."""
    if isinstance(exc, PaisError):
        return exc
    if isinstance(exc, UsageLimitExceeded):
        return AgentStepLimitError(
            f"the agent did not finish within AGENTIC_LOOP_MAX_STEPS={max_steps} model requests ({exc})"
        )
    if isinstance(exc, ModelTimeoutError | ModelRequestTimeout):
        return UpstreamTimeoutError(f"the model API timed out: {exc}")
    if isinstance(exc, ModelConnectionError):
        return DependencyUnavailableError("model_api", f"the model API is unreachable: {exc}")
    if isinstance(exc, ModelHTTPError):
        return ModelAPIFailedError(f"the model API returned HTTP {exc.status_code}: {_short(exc.body)}")
    if isinstance(exc, ModelAPIError | UnexpectedModelBehavior):
        return ModelAPIFailedError(f"the model API failed: {exc}")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(f"the request did not finish within REQUEST_TIMEOUT_SECONDS={request_timeout:g}")
    return PaisError(f"internal error while running the agent: {type(exc).__name__}")


def _short(body: object, limit: int = 300) -> str:
    text = str(body)
    return text if len(text) <= limit else f"{text[:limit]}..."
