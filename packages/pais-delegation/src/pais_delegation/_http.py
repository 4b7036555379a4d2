"""The pooled keep-alive HTTP client shared by the remote agents of a toolset."""

from __future__ import annotations

import httpx

__all__ = ["HttpPool"]


class HttpPool:
    """A lazily created `httpx.AsyncClient` with connection limits and keep-alive.

    Only connection failures (nothing was sent) are retried by the transport. `aclose()` closes
    the current client; the next use opens a new one, so a pool survives event loops that end.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        keepalive_expiry: float = 30.0,
        connect_timeout: float = 5.0,
        connect_retries: int = 1,
    ) -> None:
        self.limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self.connect_timeout = connect_timeout
        self.connect_retries = connect_retries
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The open client, created on first use."""
        if self._client is None or self._client.is_closed:
            transport = httpx.AsyncHTTPTransport(limits=self.limits, retries=self.connect_retries)
            self._client = httpx.AsyncClient(
                transport=transport, timeout=httpx.Timeout(60.0, connect=self.connect_timeout)
            )
        return self._client

    def timeout(self, seconds: float) -> httpx.Timeout:
        """A per-request timeout of `seconds` with the pool's connect timeout."""
        return httpx.Timeout(seconds, connect=min(self.connect_timeout, seconds))

    async def aclose(self) -> None:
        """Close the client and its connections (a later use opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
