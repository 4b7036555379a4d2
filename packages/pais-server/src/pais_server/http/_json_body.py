"""One strict JSON parser for every request body PAIS reads.

Stricter than `json.loads` where it matters: a string with an unpaired UTF-16 surrogate (`"\\ud800"`,
or the raw bytes of one) is rejected, so nothing stored can later fail to serialise; nesting deeper
than 200 levels is rejected instead of exhausting the stack; `NaN` and `Infinity` tokens are not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["InvalidUnicodeError", "StrictJsonRoute", "parse_json"]

_UNICODE_PROBLEMS = ("surrogate", "hex escape", "unicode code point")


class InvalidUnicodeError(ValueError):
    """The body is JSON text, but a string in it is not valid Unicode (an unpaired surrogate)."""


def parse_json(body: bytes) -> Any:
    """Parse a request body.

    Raises:
        InvalidUnicodeError: a string holds an unpaired UTF-16 surrogate, escaped or raw.
        ValueError: the body is not strict JSON otherwise (the message says where and why).
    """
    try:
        return from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        if any(sign in str(exc) for sign in _UNICODE_PROBLEMS):
            raise InvalidUnicodeError(f"{exc} (strings must be valid Unicode: no unpaired UTF-16 surrogates)") from None
        raise


class _StrictJsonRequest(Request):
    _parsed: Any

    async def json(self) -> Any:
        if not hasattr(self, "_parsed"):
            body = await self.body()
            try:
                self._parsed = parse_json(body)
            except ValueError as exc:  # FastAPI answers this one as a `json_invalid` validation error
                raise json.JSONDecodeError(str(exc), body.decode(errors="replace"), 0) from None
        return self._parsed


class StrictJsonRoute(APIRoute):
    """A FastAPI route whose JSON body goes through `parse_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handle(_StrictJsonRequest(request.scope, request.receive))

        return strict
