"""OpenAI-style error responses for every failure, and the request body size limit."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pais_core import ErrorBody, PaisError, PayloadTooLargeError

__all__ = ["BodySizeLimit", "error_response", "error_responses", "install_error_handlers"]

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
            problems.append("the request body is not valid JSON")
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
        kind = _HTTP_TYPES.get(exc.status_code, "invalid_request_error" if exc.status_code < 500 else "server_error")
        body = ErrorBody.of(str(exc.detail), kind, str(exc.status_code))
        return JSONResponse(body.model_dump(exclude_none=True), status_code=exc.status_code, headers=exc.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        body = ErrorBody.of("internal server error", "server_error", "internal_error")
        return JSONResponse(body.model_dump(exclude_none=True), status_code=500)

    app.add_exception_handler(PaisError, pais_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    _document_validation_as_400(app)


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
    """Pure ASGI middleware: bodies over `max_bytes` get 413 before the app parses them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)
        if too_large:
            await self._reject(scope, receive, send)

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"the request body exceeds MAX_REQUEST_BYTES={self.max_bytes} bytes")

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(self._too_large())(scope, receive, send)
