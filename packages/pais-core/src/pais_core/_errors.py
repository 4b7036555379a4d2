"""Errors shared by every PAIS package, each mapped to an HTTP status and an OpenAI error type."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "DependencyUnavailableError",
    "ModelAPIFailedError",
    "NotFoundError",
    "PaisError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "SessionBusyError",
    "UpstreamTimeoutError",
]


class PaisError(Exception):
    """Base class of errors that end a request with an OpenAI-style error body."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        """The request parameter at fault, when there is one (OpenAI's `error.param`)."""


class BadRequestError(PaisError):
    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationError(PaisError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class NotFoundError(PaisError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"


class SessionBusyError(PaisError):
    status_code = 409
    error_type = "conflict_error"
    code = "session_busy"


class PayloadTooLargeError(PaisError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "payload_too_large"


class RateLimitedError(PaisError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "too_many_requests"


class ModelAPIFailedError(PaisError):
    status_code = 502
    error_type = "model_api_error"
    code = "model_api_failed"


class DependencyUnavailableError(PaisError):
    """A backend the request needs (memory store, model API, MCP server) is unreachable."""

    status_code = 503
    error_type = "service_unavailable"
    code = "dependency_unavailable"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency


class UpstreamTimeoutError(PaisError):
    status_code = 504
    error_type = "timeout_error"
    code = "timeout"


class ConfigError(Exception):
    """An environment variable has an invalid value; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"invalid configuration: {variable}: {problem}")
        self.variable = variable
        self.problem = problem
