"""A sub-agent reached over HTTP: its agent card, and delegations over A2A or chat completions."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urljoin

import httpx
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span
from pydantic import ValidationError

from pais_core import (
    TERMINAL_TASK_STATES,
    A2AVersion,
    AgentCard,
    CredentialProvider,
    DataPart,
    Message,
    MessageSendConfiguration,
    PaisError,
    Task,
    TextPart,
)

from ._a2a_client import A2AClient, A2AProtocolError, A2ARpcError
from ._context import ContextMessage, render_context
from ._errors import DelegationError
from ._http import HttpPool
from ._paused import DelegatedApproval, task_approvals
from ._scope import DEPTH_HEADER, SESSION_HEADER, sub_session_id
from ._telemetry import DelegationTelemetry

__all__ = [
    "CARD_PATH",
    "CONTEXT_METADATA_KEY",
    "LEGACY_CARD_PATH",
    "A2AEndpoint",
    "DelegationResult",
    "RemoteAgent",
    "Transport",
    "a2a_endpoint",
]

logger = logging.getLogger("pais_delegation")

CARD_PATH = "/.well-known/agent-card.json"
LEGACY_CARD_PATH = "/.well-known/agent.json"
CONTEXT_METADATA_KEY = "pais_context"
"""Metadata key of the A2A text part that carries the forwarded conversation as `[{role, content}]`."""

Transport = Literal["a2a", "chat"]
_RETRY_FAILED_CARD_AFTER = 10.0
_POLL_INTERVALS = (0.05, 0.1, 0.2, 0.5, 1.0)
_NEEDS_INPUT = frozenset({"input-required", "auth-required"})


@dataclass(frozen=True)
class A2AEndpoint:
    """Where and in which protocol version an agent takes A2A JSON-RPC calls."""

    url: str
    version: A2AVersion


@dataclass(frozen=True, kw_only=True)
class DelegationResult:
    """A sub-agent's answer to one delegation."""

    agent: str
    text: str
    transport: Transport
    url: str
    session_id: str | None
    depth: int
    duration_seconds: float
    task_id: str | None = None
    approvals: tuple[DelegatedApproval, ...] = ()
    """The sub-agent's calls awaiting approval: its task `task_id` paused on them (`text` is no answer then)."""

    def metadata(self) -> dict[str, Any]:
        """JSON-ready facts about the delegation (stored on the tool return, never shown to the model)."""
        return {
            "agent": self.agent,
            "success": True,
            "transport": self.transport,
            "url": self.url,
            "session_id": self.session_id,
            "task_id": self.task_id,
            "depth": self.depth,
            "duration_seconds": round(self.duration_seconds, 6),
        }


def _major(version: str | None) -> int:
    match = re.match(r"\s*(\d+)", version or "")
    return int(match.group(1)) if match else 0


def a2a_endpoint(card: AgentCard, *, base_url: str) -> A2AEndpoint | None:
    """The JSON-RPC endpoint a card offers (1.0 preferred over 0.3), or None when it offers none."""
    found: list[A2AEndpoint] = []
    for interface in card.supported_interfaces:
        explicit = "protocol_binding" in interface.model_fields_set
        binding = interface.protocol_binding if explicit else interface.transport
        if binding.upper() == "JSONRPC":
            version: A2AVersion = "1.0" if _major(interface.protocol_version) >= 1 else "0.3"
            found.append(A2AEndpoint(urljoin(base_url + "/", interface.url), version))
    if not found and "url" in card.model_fields_set and card.preferred_transport.upper() == "JSONRPC":
        version = "1.0" if _major(card.protocol_version) >= 1 else "0.3"
        found.append(A2AEndpoint(urljoin(base_url + "/", card.url), version))
    found.sort(key=lambda endpoint: endpoint.version != "1.0")
    return found[0] if found else None


def _parse_card(data: Any, base_url: str) -> AgentCard:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    fields = dict(cast(dict[str, Any], data))
    # 1.0 cards carry their URLs in `supportedInterfaces` only.
    fields.setdefault("url", base_url)
    fields.setdefault("version", "")
    fields.setdefault("description", "")
    card = AgentCard.model_validate(fields)
    if "url" not in data:
        card.model_fields_set.discard("url")
    return card


class RemoteAgent:
    """A sub-agent at `url` (its base URL) that tasks can be delegated to.

    The agent card is read from `/.well-known/agent-card.json` (then the legacy
    `/.well-known/agent.json`), cached for `card_ttl` seconds and refreshed after; a stale card
    is kept while a refresh fails. Delegations use A2A JSON-RPC when the card offers it and
    `POST {url}/v1/chat/completions` otherwise. Agents built with the same `pool` share one
    keep-alive connection pool. With `credentials`, each delegation asks it for its auth headers
    (the current caller's, computed per call), which take precedence over `api_key`.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        card_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        card_timeout: float = 5.0,
        card_ttl: float = 300.0,
        card_retries: int = 1,
        pool: HttpPool | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        credentials: CredentialProvider | None = None,
    ) -> None:
        self.name = name
        self.credentials = credentials
        self.url = url.rstrip("/")
        self.card_url = card_url
        self.api_key = api_key
        self.timeout = timeout
        self.card_timeout = card_timeout
        self.card_ttl = card_ttl
        self.card_retries = card_retries
        self.pool = pool or HttpPool()
        self._telemetry = DelegationTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
        self._card: AgentCard | None = None
        self._card_fetched_at = 0.0
        self._card_failed_at: float | None = None
        self._card_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RemoteAgent({self.name!r}, {self.url!r})"

    @property
    def cached_card(self) -> AgentCard | None:
        """The last card read, fresh or stale; None before one was read."""
        return self._card

    @property
    def card_attempted(self) -> bool:
        """Whether a card fetch has finished (successfully or not)."""
        return self._card is not None or self._card_failed_at is not None

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _card_urls(self) -> list[str]:
        if self.card_url is None:
            return [self.url + CARD_PATH, self.url + LEGACY_CARD_PATH]
        for path, other in ((CARD_PATH, LEGACY_CARD_PATH), (LEGACY_CARD_PATH, CARD_PATH)):
            if self.card_url.endswith(path):
                return [self.card_url, self.card_url.removesuffix(path) + other]
        return [self.card_url]

    async def card(self, *, refresh: bool = False) -> AgentCard | None:
        """The agent card, from cache while fresh; None when it cannot be read (the failure is logged)."""
        now = time.monotonic()
        if not refresh and self._card is not None and now - self._card_fetched_at < self.card_ttl:
            return self._card
        if not refresh and self._card_failed_at is not None and now - self._card_failed_at < _RETRY_FAILED_CARD_AFTER:
            return self._card
        async with self._card_lock:
            if not refresh and self._card is not None and time.monotonic() - self._card_fetched_at < self.card_ttl:
                return self._card
            try:
                self._card = await self.fetch_card()
            except DelegationError as exc:
                self._card_failed_at = time.monotonic()
                logger.warning(
                    "agent card of %s unavailable (%s)%s", self.name, exc, " (keeping stale card)" * bool(self._card)
                )
            else:
                self._card_fetched_at, self._card_failed_at = time.monotonic(), None
        return self._card

    async def fetch_card(self) -> AgentCard:
        """Read the card now (no cache); GETs are retried on connection errors and 5xx.

        Raises:
            DelegationError: no card could be read.
        """
        last: DelegationError | None = None
        for url in self._card_urls():
            for attempt in range(self.card_retries + 1):
                if attempt:
                    await asyncio.sleep(0.1 * 2**attempt)
                try:
                    response = await self.pool.client.get(
                        url, headers=self._auth_headers(), timeout=self.pool.timeout(self.card_timeout)
                    )
                except httpx.TimeoutException:
                    last = DelegationError(self.name, "timeout", f"card request timed out after {self.card_timeout:g}s")
                    continue
                except httpx.TransportError as exc:
                    last = DelegationError(self.name, "unreachable", f"cannot reach {url}: {_describe(exc)}")
                    continue
                if response.status_code >= 500:
                    last = DelegationError(
                        self.name, "http_status", f"card request returned HTTP {response.status_code}"
                    )
                    continue
                if response.status_code >= 400:
                    last = DelegationError(
                        self.name, "http_status", f"card request returned HTTP {response.status_code}"
                    )
                    break
                try:
                    return _parse_card(response.json(), self.url)
                except (ValueError, ValidationError) as exc:
                    raise DelegationError(self.name, "bad_response", f"invalid agent card at {url}: {exc}") from exc
        assert last is not None
        raise last

    async def a2a_client(self) -> A2AClient | None:
        """An A2A client for the card's JSON-RPC endpoint (sharing this agent's pool), or None."""
        card = await self.card()
        endpoint = a2a_endpoint(card, base_url=self.url) if card is not None else None
        if endpoint is None:
            return None
        return A2AClient(
            endpoint.url,
            version=endpoint.version,
            http_client=self.pool.client,
            headers=self._auth_headers(),
            timeout=self.timeout,
        )

    async def send(
        self,
        task: str,
        *,
        context: Sequence[ContextMessage] = (),
        session_id: str | None = None,
        depth: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> DelegationResult:
        """Delegate `task` and wait for the answer.

        Args:
            task: What the sub-agent should do.
            context: Recent conversation, shown to the sub-agent before the task.
            session_id: The caller's session; the sub-agent uses `<session_id>/<name>`.
            depth: The caller's delegation depth; the sub-agent runs at `depth + 1`.
            headers: Extra request headers.

        Raises:
            DelegationError: the sub-agent could not be reached, timed out, or did not answer properly.
        """
        return await self._delegate(task, context, session_id, depth, headers)

    async def decide(
        self,
        task_id: str,
        decisions: Mapping[str, Mapping[str, Any]],
        *,
        session_id: str | None = None,
        depth: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> DelegationResult:
        """Answer a delegation that paused on the sub-agent's approvals, and wait for the answer again.

        Args:
            task_id: The sub-agent's task (`DelegationResult.task_id` of the paused delegation).
            decisions: `{"<its approval id>": {"approved": bool, "reason"?: str}}`, sent as an A2A data
                part `{"decisions": ...}` on that task.
            session_id, depth, headers: As for `send`.

        Raises:
            DelegationError: as for `send`; also when the sub-agent has no A2A endpoint.
        """
        return await self._delegate("", (), session_id, depth, headers, paused=(task_id, decisions))

    async def _delegate(
        self,
        task: str,
        context: Sequence[ContextMessage],
        session_id: str | None,
        depth: int,
        headers: Mapping[str, str] | None,
        *,
        paused: tuple[str, Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> DelegationResult:
        sub_session = sub_session_id(session_id, self.name) if session_id else None
        started = time.perf_counter()
        with self._telemetry.span(self.name, url=self.url, depth=depth + 1) as span:
            outcome = "error"
            try:
                async with asyncio.timeout(self.timeout):
                    result = await self._deliver(task, context, sub_session, depth + 1, headers, span, paused)
                outcome = "success"
            except TimeoutError:
                outcome = "timeout"
                raise DelegationError(self.name, "timeout", f"timed out after {self.timeout:g}s") from None
            except DelegationError as exc:
                outcome = exc.reason
                raise
            finally:
                self._telemetry.record(span, self.name, outcome=outcome, seconds=time.perf_counter() - started)
        return result

    async def _deliver(
        self,
        task: str,
        context: Sequence[ContextMessage],
        sub_session: str | None,
        depth: int,
        headers: Mapping[str, str] | None,
        span: Span,
        paused: tuple[str, Mapping[str, Mapping[str, Any]]] | None,
    ) -> DelegationResult:
        started = time.perf_counter()
        client = await self.a2a_client()
        if client is None and paused is not None:
            raise DelegationError(self.name, "bad_response", "approval decisions need the agent's A2A endpoint")
        span.set_attribute("pais.delegation.transport", "a2a" if client else "chat")
        request_headers = self._request_headers(sub_session, depth, headers)
        if self.credentials is not None:
            try:
                request_headers.update(await self.credentials.headers())
            except PaisError as exc:
                raise DelegationError(self.name, "unauthorized", f"no credentials: {exc.message}") from None
        task_id: str | None = None
        approvals: list[DelegatedApproval] = []
        if client is not None:
            message = self._a2a_message(task, context, sub_session, paused)
            text, task_id, approvals = await self._send_a2a(client, message, request_headers)
            transport: Transport = "a2a"
            url = client.url
        else:
            text = await self._send_chat(task, context, request_headers)
            transport, url = "chat", self.url + "/v1/chat/completions"
        return DelegationResult(
            agent=self.name,
            text=text,
            transport=transport,
            url=url,
            session_id=sub_session,
            depth=depth,
            duration_seconds=time.perf_counter() - started,
            task_id=task_id,
            approvals=tuple(approvals),
        )

    def _request_headers(self, sub_session: str | None, depth: int, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {**self._auth_headers(), DEPTH_HEADER: str(depth), **(extra or {})}
        if sub_session:
            headers[SESSION_HEADER] = sub_session
        propagate.inject(headers)
        return headers

    async def _send_chat(self, task: str, context: Sequence[ContextMessage], headers: dict[str, str]) -> str:
        messages = [{"role": m.role, "content": m.content} for m in context]
        messages.append({"role": "user", "content": task})
        url = self.url + "/v1/chat/completions"
        body = {"model": self.name, "messages": messages, "stream": False}
        try:
            response = await self.pool.client.post(
                url, json=body, headers=headers, timeout=self.pool.timeout(self.timeout)
            )
        except httpx.TransportError as exc:
            raise self._transport_error(url, exc) from exc
        if response.status_code >= 400:
            raise DelegationError(self.name, "http_status", f"HTTP {response.status_code}: {_error_text(response)}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            content = None
        if not isinstance(content, str):
            raise DelegationError(self.name, "bad_response", f"not a chat completion: {response.text[:200]!r}")
        return content

    @staticmethod
    def _a2a_message(
        task: str,
        context: Sequence[ContextMessage],
        sub_session: str | None,
        paused: tuple[str, Mapping[str, Mapping[str, Any]]] | None,
    ) -> Message:
        """The task with its forwarded context, or the decisions on a paused task."""
        if paused is not None:
            task_id, decisions = paused
            data = {"decisions": {call_id: dict(decision) for call_id, decision in decisions.items()}}
            return Message(role="user", parts=[DataPart(data=data)], contextId=sub_session, taskId=task_id)
        parts: list[TextPart] = []
        if context:
            structured = [{"role": m.role, "content": m.content} for m in context]
            parts.append(
                TextPart(
                    text=f"Conversation so far:\n{render_context(context)}",
                    metadata={CONTEXT_METADATA_KEY: structured},
                )
            )
        parts.append(TextPart(text=task))
        return Message(role="user", parts=list(parts), contextId=sub_session)

    async def _send_a2a(
        self, client: A2AClient, message: Message, headers: dict[str, str]
    ) -> tuple[str, str | None, list[DelegatedApproval]]:
        config = MessageSendConfiguration(blocking=True, acceptedOutputModes=["text/plain"])
        try:
            result = await client.send_message(message, configuration=config, headers=headers)
            if isinstance(result, Message):
                return result.text(), None, []
            final = await self._until_settled(client, result, headers)
        except httpx.HTTPStatusError as exc:
            raise DelegationError(
                self.name, "http_status", f"HTTP {exc.response.status_code}: {_error_text(exc.response)}"
            ) from exc
        except httpx.TransportError as exc:
            raise self._transport_error(client.url, exc) from exc
        except A2ARpcError as exc:
            raise DelegationError(self.name, "bad_response", f"A2A error {exc.code}: {exc.message}") from exc
        except A2AProtocolError as exc:
            raise DelegationError(self.name, "bad_response", str(exc)) from exc
        state = final.status.state
        if state == "completed" or state in _NEEDS_INPUT:
            return final.text(), final.id, task_approvals(self.name, final)
        detail = final.text() or "no details"
        raise DelegationError(self.name, "task_failed", f"task {final.id} ended {state}: {detail}")

    async def _until_settled(self, client: A2AClient, task: Task, headers: dict[str, str]) -> Task:
        """Poll a task the agent returned unfinished until it settles (bounded by the delegation timeout)."""
        attempt = 0
        while task.status.state not in TERMINAL_TASK_STATES and task.status.state not in _NEEDS_INPUT:
            await asyncio.sleep(_POLL_INTERVALS[min(attempt, len(_POLL_INTERVALS) - 1)])
            task = await client.get_task(task.id, headers=headers)
            attempt += 1
        return task

    def _transport_error(self, url: str, exc: httpx.TransportError) -> DelegationError:
        if isinstance(exc, httpx.TimeoutException):
            return DelegationError(self.name, "timeout", f"timed out after {self.timeout:g}s")
        if isinstance(exc, httpx.ConnectError):
            return DelegationError(self.name, "unreachable", f"cannot reach {url}: {_describe(exc)}")
        return DelegationError(self.name, "connection_lost", f"connection lost before an answer: {_describe(exc)}")

    async def aclose(self) -> None:
        """Close this agent's connection pool (it reopens on next use)."""
        await self.pool.aclose()

    async def __aenter__(self) -> RemoteAgent:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()


def _describe(exc: BaseException) -> str:
    """The root cause of a transport error in a few words ("connection refused", ...)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _error_text(response: httpx.Response) -> str:
    """The message of an OpenAI- or JSON-RPC-style error body, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = cast(dict[str, Any], body).get("error")
        if isinstance(error, dict) and isinstance(message := cast(dict[str, Any], error).get("message"), str):
            return message
        if isinstance(error, str):
            return error
    return response.text[:200]
