"""Map what an agent run can raise to `PaisError`s with the right HTTP status."""

from __future__ import annotations

import logging
from typing import ClassVar

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRequestTimeout,
    ModelTimeoutError,
    RunCancelled,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)

from pais_core import (
    DependencyUnavailableError,
    ModelAPIFailedError,
    PaisError,
    UpstreamTimeoutError,
    redact_urls,
)

__all__ = ["AgentStepLimitError", "RunCancelledError", "ServerBusyError", "to_pais_error"]

logger = logging.getLogger("pais_server.model")


class AgentStepLimitError(PaisError):
    """The agent did not finish within `AGENTIC_LOOP_MAX_STEPS` model requests."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    code: ClassVar[str] = "max_steps_exceeded"


class RunCancelledError(PaisError):
    """The run was stopped through its cancellation token (an A2A `tasks/cancel`)."""

    status_code: ClassVar[int] = 409
    error_type: ClassVar[str] = "invalid_request_error"
    code: ClassVar[str] = "cancelled"


class ServerBusyError(PaisError):
    """This replica already runs `MAX_CONCURRENT_RUNS` agent runs; the client should retry shortly."""

    status_code: ClassVar[int] = 503
    error_type: ClassVar[str] = "service_unavailable"
    code: ClassVar[str] = "server_busy"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


def to_pais_error(exc: BaseException, *, max_steps: int, request_timeout: float) -> PaisError:
    """Translate `exc` into the error the client sees.

    What the model API said (it may echo credentials or internals) goes to the log only; callers
    and the stored `error` event get a generic message with the status.
    """
    if isinstance(exc, PaisError):
        return exc
    if isinstance(exc, RunCancelled) and not isinstance(exc, TimeoutError):
        return RunCancelledError("the run was cancelled on request")
    if isinstance(exc, UsageLimitExceeded):
        return AgentStepLimitError(
            f"the agent did not finish within AGENTIC_LOOP_MAX_STEPS={max_steps} model requests ({exc})"
        )
    if isinstance(exc, ModelTimeoutError | ModelRequestTimeout):
        return _logged(exc, UpstreamTimeoutError("the model API timed out"))
    if isinstance(exc, ModelConnectionError):
        return _logged(exc, DependencyUnavailableError("model_api", "the model API is unreachable"))
    if isinstance(exc, ModelHTTPError):
        return _logged(exc, ModelAPIFailedError(f"the model API returned HTTP {exc.status_code}"))
    if isinstance(exc, ModelAPIError | UnexpectedModelBehavior):
        return _logged(exc, ModelAPIFailedError("the model API failed"))
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(f"the request did not finish within REQUEST_TIMEOUT_SECONDS={request_timeout:g}")
    return PaisError(f"internal error while running the agent: {type(exc).__name__}")


def _logged(exc: BaseException, error: PaisError) -> PaisError:
    logger.warning("%s: %s: %s", error.message, type(exc).__name__, redact_urls(_short(_detail(exc))))
    return error


def _detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    return f"{exc} {body}" if body is not None else str(exc)


def _short(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."
