"""A webhook receiver on loopback for A2A push notifications: records every POST it gets."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .threaded_server import ThreadedServer

__all__ = ["Notification", "WebhookReceiver"]


@dataclass(frozen=True)
class Notification:
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    """What the receiver answered."""

    @property
    def state(self) -> str:
        """The task state the notification tells (`TASK_STATE_WORKING`, ...)."""
        inner = self.body.get("task") or self.body.get("statusUpdate") or {}
        return inner["status"]["state"]


class WebhookReceiver:
    """Accepts POST /{path}; a path starting with `flaky` answers 503 to its first request.

    A request to a path in `held` waits unanswered (recorded with status 0) until `release()`,
    then is answered 503.
    """

    def __init__(self) -> None:
        self.received: list[Notification] = []
        self.held: set[str] = set()
        self._released = threading.Event()
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._server = ThreadedServer(app)
        self.base_url = self._server.base_url

    async def _receive(self, request: Request) -> Response:
        path = request.url.path
        body = await request.json()
        if path in self.held:
            with self._lock:
                self.received.append(Notification(path, dict(request.headers), body, 0))
            await asyncio.to_thread(self._released.wait)
            return Response(status_code=503)
        with self._lock:
            seen = any(n.path == path for n in self.received)
            status = 503 if path.startswith("/flaky") and not seen else 200
            self.received.append(Notification(path, dict(request.headers), body, status))
        return Response(status_code=status)

    def release(self) -> None:
        """Answer the held requests (503) and hold no more."""
        self.held.clear()
        self._released.set()

    def delivered(self, path: str) -> list[Notification]:
        """The notifications to `path` answered 200, in arrival order."""
        with self._lock:
            return [n for n in self.received if n.path == path and n.status == 200]

    def wait_for(self, path: str, state: str, timeout: float = 20.0) -> list[Notification]:
        """The delivered notifications to `path` once one tells `state` (or the deadline passed)."""
        deadline = time.monotonic() + timeout
        while not any(n.state == state for n in self.delivered(path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicate would come right after
        return self.delivered(path)

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._server.stop()
