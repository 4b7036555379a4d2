"""An OpenAI-compatible Chat Completions API that refuses some request features, like real model servers do.

`refuse(body)` returns an error message for a request it rejects with HTTP 400 (llama-cpp-python
refusing `response_format: json_schema`, a gateway refusing `tools`), or None to answer. Answers
replay `replies`: the n-th for a request holding n-1 assistant messages. Every request body is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .threaded_server import ThreadedServer

__all__ = ["RefusingModelServer"]


class RefusingModelServer(ThreadedServer):
    """The API on a loopback port; `url` is its OpenAI base URL (with `/v1`)."""

    def __init__(self, refuse: Callable[[dict[str, Any]], str | None], replies: Sequence[str] = ("ok",)) -> None:
        self.refuse = refuse
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        super().__init__(Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])]))
        self.url = f"{self.base_url}/v1"

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.bodies.append(body)
        if (error := self.refuse(body)) is not None:
            return JSONResponse({"error": {"message": error, "type": "invalid_request_error"}}, status_code=400)
        answered = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        message = {"role": "assistant", "content": self.replies[min(answered, len(self.replies) - 1)]}
        return JSONResponse(
            {
                "id": "chatcmpl-refusing",
                "object": "chat.completion",
                "created": 0,
                "model": str(body.get("model", "refusing")),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )
