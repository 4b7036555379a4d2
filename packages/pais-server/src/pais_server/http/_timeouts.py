"""Connection timeouts for uvicorn: idle keep-alive, and a deadline to read each whole request.

uvicorn only times out a keep-alive connection after a response; it has no timeout for a new
connection that sends nothing, for headers sent slowly, or for a body trickling in, so the
protocol here gives each request a read deadline (closing the connection when it passes).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from pais_core import Settings

__all__ = ["uvicorn_options"]

logger = logging.getLogger("pais_server.http")


class ReadDeadlineProtocol(asyncio.Protocol):
    """uvicorn's HTTP protocol, closing a connection that does not deliver a whole request
    (headers and body) within `read_timeout` of its first byte, or a first request within
    `read_timeout` of connecting."""

    def __init__(self, *, read_timeout: float, **kwargs: Any) -> None:
        self.read_timeout = read_timeout
        self._http: Any = AutoHTTPProtocol(**kwargs)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.BaseTransport | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._http.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._http.data_received(data)
        if self._request_read():
            self._disarm()
        elif self._deadline is None:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._http.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self._http.eof_received()

    def pause_writing(self) -> None:
        self._http.pause_writing()

    def resume_writing(self) -> None:
        self._http.resume_writing()

    def _request_read(self) -> bool:
        """Whether the current request arrived whole and is being answered."""
        cycle = self._http.cycle
        return cycle is not None and not cycle.response_complete and not cycle.more_body

    def _arm(self) -> None:
        self._deadline = self._loop.call_later(self.read_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._request_read():
            logger.debug("closing a connection that sent no whole request within %gs", self.read_timeout)
            self._transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings PAIS serves with: keep-alive, request read deadline, graceful shutdown."""
    return {
        # a partial of a module-level class: picklable, for the worker processes of `pais run --reload`
        "http": functools.partial(ReadDeadlineProtocol, read_timeout=settings.http_read_timeout_seconds),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds),
    }
