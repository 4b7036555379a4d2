"""Optional bearer-key authentication (`AGENT_API_KEY`); probes and the agent card stay open."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pais_core import AuthenticationError

from ._http_errors import error_response

__all__ = ["OPEN_PATHS", "BearerAuth", "document_bearer_auth"]

OPEN_PATHS = frozenset({"/health", "/ready", "/.well-known/agent-card.json", "/.well-known/agent.json"})


class BearerAuth:
    """Pure ASGI middleware: every path but `OPEN_PATHS` needs `Authorization: Bearer <key>`.

    The scheme is matched case-insensitively (RFC 7235), the key in constant time.
    """

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self._expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get("authorization")
        scheme, key = get_authorization_scheme_param(supplied)
        # Headers are decoded as latin-1: encoding back gives the bytes the client sent.
        if scheme.lower() == "bearer" and hmac.compare_digest(key.encode("latin-1"), self._expected):
            await self.app(scope, receive, send)
            return
        problem = "invalid API key" if supplied else "missing API key: send Authorization: Bearer <AGENT_API_KEY>"
        response = error_response(AuthenticationError(problem), {"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


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
