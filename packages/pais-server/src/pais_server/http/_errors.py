"""Error responses in the endpoint's protocol for every failure, and the request body size limit."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pais_core import (
    ErrorBody,
    JsonRpcError,
    JsonRpcErrorCode,
    JsonRpcResponse,
    PaisError,
    PayloadTooLargeError,
)

__all__ = ["BodySizeLimit", "UnexpectedErrors", "error_response", "error_responses", "install_error_handlers"]

logger = logging.getLogger("pais_server.http")

_HTTP_TYPES = {401: "authentication_error", 404: "invalid_request_error", 405: "invalid_request_error"}

_MEANINGS = {
    400: "Invalid request",
    401: "Missing or wrong API key (when AGENT_API_KEY is set)",
    404: "Not found",
    409: "The session is busy with another request",
    413: "Request body larger than MAX_REQUEST_BYTES",
    500: "Internal error",
    502: "The model API failed",
    503: "Server busy (with Retry-After) or a dependency is down",
    504: "Timed out",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries: each of `statuses` answers with the OpenAI error body."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}


def error_response(error: PaisError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody.of(error.message, error.error_type, error.code, param=error.param)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=error.status_code, headers=headers)


def _describe(errors: Any) -> str:
    problems: list[str] = []
    for error in list(errors)[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error")
            problems.append(
                f"the request body is not valid JSON: {reason}" if reason else "the request body is not valid JSON"
            )
        elif not where and error.get("type") in ("model_attributes_type", "dict_type"):
            problems.append("the request body must be a JSON object")
        else:
            problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error leave as `{"error": {"message", "type", "code"}}` with a real status."""

    async def pais_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PaisError)
        return error_response(exc, getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        body = ErrorBody.of(_describe(exc.errors()), "invalid_request_error", "invalid_request")
        return JSONResponse(body.model_dump(exclude_none=True), status_code=400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 413 and MAX_BODY_SIZE_SCOPE_KEY in request.scope:  # Starlette's body limit
            return error_response(_payload_too_large(request.scope[MAX_BODY_SIZE_SCOPE_KEY]))
        kind = _HTTP_TYPES.get(exc.status_code, "invalid_request_error" if exc.status_code < 500 else "server_error")
        body = ErrorBody.of(str(exc.detail), kind, str(exc.status_code))
        return JSONResponse(body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(PaisError, pais_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(UnexpectedErrors)  # the innermost middleware: it sees what no handler took
    _document_validation_as_400(app)


class UnexpectedErrors:
    """Pure ASGI middleware: an exception no handler took becomes a logged 500 in the endpoint's
    error shape (JSON-RPC on the A2A endpoint `POST /`, the OpenAI body elsewhere).

    Starlette's catch-all handler re-raises after answering, which makes uvicorn drop the
    keep-alive connection; answering here keeps it usable for the client's next request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:  # else the response is cut short and the server closes the connection
                await _internal_error(scope)(scope, receive, send)


def _internal_error(scope: Scope) -> JSONResponse:
    if scope["path"] == "/" and scope["method"] == "POST":
        error = JsonRpcError(code=int(JsonRpcErrorCode.INTERNAL_ERROR), message="internal error")
        return JSONResponse(JsonRpcResponse(id=None, error=error).to_wire(), status_code=500)
    body = ErrorBody.of("internal server error", "server_error", "internal_error")
    return JSONResponse(body.model_dump(exclude_none=True), status_code=500)


def _document_validation_as_400(app: FastAPI) -> None:
    """Drop the 422 FastAPI documents for request validation: PAIS answers it with a 400 (listed per route)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()
        if first:  # built once and cached by FastAPI: edit that copy
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema

    app.openapi = openapi


class BodySizeLimit:
    """Starlette's request body limit (`RequestBodyLimitMiddleware`), answering 413 in the OpenAI shape.

    A body that grows past the limit while read raises Starlette's 413, rendered by the handlers
    above. A declared `Content-Length` over the limit is answered here: Starlette answers that
    case with a fixed `text/plain` 413 that no exception handler sees.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_bytes)
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = Headers(scope=scope).get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                await error_response(_payload_too_large(self.max_bytes))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _payload_too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the request body exceeds MAX_REQUEST_BYTES={max_bytes} bytes")
