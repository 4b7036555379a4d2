"""Caller authentication: the static key (`AGENT_API_KEY`) and signed JWTs (`AUTH_JWKS_URL`).

Probes and the agent card stay open. A verified JWT makes its principal the current one for the
request (and every run, task and outbound call it starts); the static key makes `API_KEY_PRINCIPAL`
(`api-key`) the current one, so what its callers start is theirs and no token's.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pais_core import (
    API_KEY_PRINCIPAL,
    AuthenticationError,
    JsonRpcError,
    JsonRpcErrorCode,
    JsonRpcResponse,
    PaisError,
    principal_scope,
)

from ..http._errors import error_response
from . import InvalidTokenError, JwtVerifier

__all__ = ["OPEN_PATHS", "BearerAuth", "document_bearer_auth"]

OPEN_PATHS = frozenset({"/health", "/ready", "/.well-known/agent-card.json", "/.well-known/agent.json"})
_UNAUTHENTICATED = -32000
"""JSON-RPC server error code of an A2A request refused for its credentials (sent with HTTP 401)."""


class BearerAuth:
    """Pure ASGI middleware: every path but `OPEN_PATHS` needs `Authorization: Bearer <key or JWT>`.

    The scheme is matched case-insensitively (RFC 7235), the static key in constant time. A refusal
    is a 401 with `WWW-Authenticate: Bearer` (with `error="invalid_token"` when a credential was
    sent), in the OpenAI error shape, or as a JSON-RPC error on the A2A endpoint (`POST /`).
    """

    def __init__(self, app: ASGIApp, *, api_key: str | None = None, verifier: JwtVerifier | None = None) -> None:
        self.app = app
        self._expected = api_key.encode() if api_key else None
        self._verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get("authorization")
        scheme, credential = get_authorization_scheme_param(supplied)
        bearer = credential if scheme.lower() == "bearer" else ""
        # Headers are decoded as latin-1: encoding back gives the bytes the client sent.
        if bearer and self._expected is not None and hmac.compare_digest(bearer.encode("latin-1"), self._expected):
            with principal_scope(API_KEY_PRINCIPAL):
                await self.app(scope, receive, send)
            return
        if bearer and self._verifier is not None:
            try:
                principal = await self._verifier.verify(bearer)
            except PaisError as exc:
                await _refusal(scope, exc, sent=True)(scope, receive, send)
                return
            with principal_scope(principal):
                await self.app(scope, receive, send)
            return
        if not supplied:
            wanted = "a token" if self._verifier is not None else "AGENT_API_KEY"
            error = AuthenticationError(f"missing credentials: send Authorization: Bearer <{wanted}>")
        elif self._verifier is not None:
            error = InvalidTokenError("invalid token: neither a signed JWT nor the API key")
        else:
            error = AuthenticationError("invalid API key")
        await _refusal(scope, error, sent=bool(supplied))(scope, receive, send)


def _refusal(scope: Scope, error: PaisError, *, sent: bool) -> Response:
    """401 (or 503 when the JWKS cannot be read) in the shape of the protocol at `scope`'s path."""
    headers: dict[str, str] = {}
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if sent else "Bearer"
    if scope["path"] != "/" or scope["method"] != "POST":
        return error_response(error, headers)
    code = _UNAUTHENTICATED if error.status_code == 401 else int(JsonRpcErrorCode.INTERNAL_ERROR)
    body = JsonRpcResponse(id=None, error=JsonRpcError(code=code, message=error.message)).to_wire()
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def document_bearer_auth(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI document, required by every operation outside `OPEN_PATHS`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()
        if first:  # built once and cached by FastAPI: edit that copy
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
            }
            for path, operations in schema.get("paths", {}).items():
                if path not in OPEN_PATHS:
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi
