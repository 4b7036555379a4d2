"""Credentials of outbound calls: the agent's own token (the actor) and the caller's (the subject).

Per target, `Authorization` carries its static key (`none`), the caller's token as received
(`forward`), or the caller's token exchanged at the token endpoint (RFC 8693) for a token bound to
the target's audience with the agent as actor (`exchange`). Every call also carries the agent's own
token in `x-agent-authorization` when the agent has one; when the agent acts as itself (its own
runs, `AUTONOMOUS_GOAL`), that token is also the subject forwarded or exchanged. Headers are computed per call from the
current principal; tokens are cached only by the provider, keyed by a digest, until shortly before
they expire. No token ever appears in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, cast

import httpx

from pais_core import (
    ACTOR_HEADER,
    DependencyUnavailableError,
    McpServerSpec,
    OutboundAuth,
    Settings,
    SubAgentSpec,
    TokenExchangeConfig,
    current_principal,
)

__all__ = ["AgentToken", "Credentials", "TargetCredentials", "TokenExchange"]

EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
_EARLY = 30.0
"""Seconds before its expiry a cached token is replaced."""
_CACHED_EXCHANGES = 10_000


class CredentialError(DependencyUnavailableError):
    """A token could not be obtained from the token endpoint (or the token file)."""

    def __init__(self, message: str) -> None:
        super().__init__("token_endpoint", message)


async def _token_request(
    http: httpx.AsyncClient, url: str, form: dict[str, str], auth: httpx.Auth | None
) -> dict[str, Any]:
    """POST a grant to a token endpoint; the response body (with a string `access_token`)."""
    try:
        response = await http.post(url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
    except httpx.HTTPError as exc:
        raise CredentialError(f"token endpoint {url} unreachable: {type(exc).__name__}") from None
    if response.status_code != 200:
        grant = form["grant_type"].rsplit(":", 1)[-1]
        raise CredentialError(f"token endpoint {url} refused the {grant} grant: HTTP {response.status_code}")
    try:
        body = cast(dict[str, Any], response.json())
        token = body["access_token"]
    except (ValueError, KeyError, TypeError):
        raise CredentialError(f"token endpoint {url} answered without an access_token") from None
    if not isinstance(token, str):
        raise CredentialError(f"token endpoint {url} answered without an access_token")
    return body


def _expiry(body: Mapping[str, Any]) -> float:
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) else 300.0
    return time.monotonic() + max(seconds - _EARLY, 0.0)


class AgentToken:
    """The agent's own token: from a file (re-read when it changes) or client credentials (cached)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_file: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_endpoint: str | None = None,
    ) -> None:
        self._http = http
        self._file = token_file
        self._file_state: tuple[float, str] | None = None
        self._client = httpx.BasicAuth(client_id, client_secret or "") if client_id else None
        self._endpoint = token_endpoint
        self._cached: tuple[float, str] | None = None
        self._lock = asyncio.Lock()

    @property
    def client_auth(self) -> httpx.Auth | None:
        """HTTP Basic with the agent's client credentials, to authenticate at the token endpoint."""
        return self._client

    async def token(self) -> str | None:
        """The current token, or None when the agent has no credentials."""
        if self._file is not None:
            return self._from_file(self._file)
        if self._client is None or self._endpoint is None:
            return None
        cached = self._cached
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        async with self._lock:
            if self._cached is None or time.monotonic() >= self._cached[0]:
                body = await _token_request(
                    self._http, self._endpoint, {"grant_type": "client_credentials"}, self._client
                )
                self._cached = (_expiry(body), body["access_token"])
            return self._cached[1]

    def _from_file(self, path: str) -> str:
        try:
            changed = os.stat(path).st_mtime
            if self._file_state is None or self._file_state[0] != changed:
                with open(path, encoding="utf-8") as file:
                    self._file_state = (changed, file.read().strip())
        except OSError as exc:
            raise CredentialError(f"cannot read AGENT_AUTH_TOKEN_FILE {path}: {exc.strerror}") from None
        return self._file_state[1]


class TokenExchange:
    """RFC 8693 token exchange at `config.token_endpoint`, cached per subject token and audience."""

    def __init__(self, http: httpx.AsyncClient, config: TokenExchangeConfig, agent: AgentToken) -> None:
        self._http = http
        self.config = config
        self._agent = agent
        self._cache: OrderedDict[tuple[bytes, str], tuple[float, str]] = OrderedDict()
        self._pending: dict[tuple[bytes, str], asyncio.Future[str]] = {}

    async def exchange(self, subject_token: str, audience: str) -> str:
        """A token for `audience` on behalf of the subject, with the agent as actor."""
        key = (hashlib.sha256(subject_token.encode()).digest(), audience)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        pending = self._pending.get(key)
        if pending is not None:  # one exchange per subject and audience at a time
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            expires, token = await self._request(subject_token, audience)
            self._cache[key] = (expires, token)
            while len(self._cache) > _CACHED_EXCHANGES:
                self._cache.popitem(last=False)
            future.set_result(token)
            return token
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else needs to
            raise
        finally:
            del self._pending[key]

    async def _request(self, subject_token: str, audience: str) -> tuple[float, str]:
        form = {
            "grant_type": EXCHANGE_GRANT,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "requested_token_type": ACCESS_TOKEN_TYPE,
            "audience": audience,
        }
        if (actor := await self._agent.token()) is not None:
            form["actor_token"] = actor
            form["actor_token_type"] = ACCESS_TOKEN_TYPE
        body = await _token_request(self._http, self.config.token_endpoint, form, self._agent.client_auth)
        return _expiry(body), body["access_token"]


class TargetCredentials:
    """The `CredentialProvider` of one target: its `Authorization` and the actor header, per call."""

    def __init__(
        self,
        target: str,
        mode: OutboundAuth,
        *,
        agent: AgentToken,
        exchange: TokenExchange | None = None,
        static_key: str | None = None,
    ) -> None:
        self.target = target
        self.mode = mode
        self._agent = agent
        self._exchange = exchange
        self._static = {"Authorization": f"Bearer {static_key}"} if static_key else {}

    async def headers(self) -> Mapping[str, str]:
        headers = dict(self._static)
        actor = await self._agent.token()
        if actor is not None:
            headers[ACTOR_HEADER] = f"Bearer {actor}"
        principal = current_principal()
        subject = None if principal is None else actor if principal.agent else principal.token
        if subject is None or self.mode == "none":
            return headers  # no caller token (the static key, no auth): the agent's own identity only
        if self.mode == "forward":
            headers["Authorization"] = f"Bearer {subject}"
        elif self._exchange is not None:  # Settings requires KAOS_TOKEN_EXCHANGE_CONFIG for `exchange`
            audience = self._exchange.config.audience or self.target
            headers["Authorization"] = f"Bearer {await self._exchange.exchange(subject, audience)}"
        return headers


class Credentials:
    """The agent's outbound credentials for every target (one HTTP client to the token endpoints)."""

    def __init__(self, settings: Settings) -> None:
        self._http = httpx.AsyncClient(timeout=10.0)
        exchange_config = settings.token_exchange
        self.agent = AgentToken(
            self._http,
            token_file=settings.agent_auth_token_file,
            client_id=settings.agent_auth_client_id,
            client_secret=settings.agent_auth_client_secret,
            token_endpoint=settings.agent_auth_token_endpoint
            or (exchange_config.token_endpoint if exchange_config else None),
        )
        self.exchange = TokenExchange(self._http, exchange_config, self.agent) if exchange_config else None
        self._targets = frozenset(exchange_config.targets) if exchange_config else frozenset[str]()
        self._has_agent_token = bool(settings.agent_auth_token_file or settings.agent_auth_client_id)

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials | None:
        """The agent's outbound credentials; None when no target sends more than its static key."""
        targets = (*settings.sub_agents, *settings.mcp_servers)
        configured = settings.token_exchange or settings.agent_auth_token_file or settings.agent_auth_client_id
        if configured is None and not any(target.auth for target in targets):
            return None
        return cls(settings)

    def providers(self, targets: Iterable[SubAgentSpec | McpServerSpec]) -> dict[str, TargetCredentials | None]:
        """The provider of each target, by name (a sub-agent's `api_key` stays its `none` credential)."""
        return {
            target.name: self.for_target(target.name, target.auth, getattr(target, "api_key", None))
            for target in targets
        }

    def mode(self, target: str, configured: OutboundAuth | None) -> OutboundAuth:
        """The target's `_AUTH`, else `exchange` for exchange targets and `none` for the rest."""
        if configured is not None:
            return configured
        return "exchange" if target in self._targets else "none"

    def for_target(
        self, target: str, configured: OutboundAuth | None, static_key: str | None = None
    ) -> TargetCredentials | None:
        """The provider for `target`; None when it would only ever send its static key (as today)."""
        mode = self.mode(target, configured)
        if mode == "none" and not self._has_agent_token:
            return None
        return TargetCredentials(target, mode, agent=self.agent, exchange=self.exchange, static_key=static_key)

    async def aclose(self) -> None:
        await self._http.aclose()
