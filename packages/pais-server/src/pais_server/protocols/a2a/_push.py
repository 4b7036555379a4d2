"""A2A push notifications: a task's webhook configs, and POSTing each state change of the task to them.

A config is stored in the memory backend beside its task. The replica that writes a state change
to the task's run log POSTs it (the A2A 1.0 `StreamResponse` JSON, as the spec's webhook payload)
to every config of the task, with `X-A2A-Notification-Token` and `Authorization: <scheme>
<credentials>` when given, retrying failures with exponential backoff.

Delivery is at least once per `(task, config, event id)`, duplicates rare: before the first attempt
the replica takes a lease on the delivery (`push:<task>:<config>:<event id>`, renewed while it tries,
`A2A_TASK_LEASE_SECONDS`) and, once delivered or given up, records it as delivered in memory and
gives the lease up. A replica that dies while delivering leaves a lease that runs out: the lease
sweeper of another replica replays the task's log, delivering what was not recorded (also the
events the dead replica had not reached). A receiver that got the event just before the replica
died gets it again: the payload's `metadata.pais_event_id` (in `task` or `statusUpdate`) tells.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pais_core import STREAM_EVENT, A2AVersion, PaisError, to_v1_stream_response

from ...runtime._leases import Leases

__all__ = [
    "EVENT_ID_METADATA_KEY",
    "PushConfig",
    "PushConfigError",
    "PushNotifier",
    "push_config_from_wire",
    "push_config_to_wire",
]

logger = logging.getLogger("pais_server.a2a")

NOTIFICATION_TOKEN_HEADER = "X-A2A-Notification-Token"
_ATTEMPTS = 4
_BACKOFF_SECONDS = 0.5
_TIMEOUT_SECONDS = 10.0
_RETRIED_STATUSES = frozenset({408, 425, 429})
_CLAIM_PREFIX = "push:"
EVENT_ID_METADATA_KEY = "pais_event_id"
"""Metadata key of a push notification's `task` or `statusUpdate` holding the run-log event id."""


_Queued = tuple[str, dict[str, Any], list[dict[str, Any]] | None]
"""A queued event: its id, its data, and the task's configs when known."""


class PushConfigError(ValueError):
    """A push-notification config this agent refuses (answered -32602)."""


class PushConfig(BaseModel):
    """One webhook of a task, as stored (the same record for both protocol versions)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=256)
    url: str = Field(min_length=1, max_length=2048)
    token: str | None = None
    scheme: str | None = None
    credentials: str | None = None


def push_config_from_wire(data: Any, *, default_id: str) -> PushConfig:
    """A config from its 1.0 JSON (`authentication.scheme`) or 0.3 JSON (`authentication.schemes`).

    Raises:
        PushConfigError: not a config.
    """
    if not isinstance(data, dict):
        raise PushConfigError("the push notification config must be an object")
    wire = cast(dict[str, Any], data)
    auth = wire.get("authentication")
    scheme: Any = None
    credentials: Any = None
    if isinstance(auth, dict):
        auth = cast(dict[str, Any], auth)
        schemes = auth.get("schemes")
        scheme = auth.get("scheme") or (cast(list[Any], schemes)[0] if isinstance(schemes, list) and schemes else None)
        credentials = auth.get("credentials")
    elif auth is not None:
        raise PushConfigError("authentication must be an object")
    try:
        return PushConfig(
            id=wire.get("id") or default_id,
            url=wire.get("url", ""),
            token=wire.get("token") or None,
            scheme=scheme or None,
            credentials=credentials or None,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise PushConfigError(f"push notification config {'.'.join(map(str, error['loc']))}: {error['msg']}") from None


def push_config_to_wire(task_id: str, config: PushConfig, version: A2AVersion) -> dict[str, Any]:
    """The `TaskPushNotificationConfig` of `version`: flat in 1.0, nested under `pushNotificationConfig` in 0.3."""
    inner: dict[str, Any] = {"id": config.id, "url": config.url}
    if config.token:
        inner["token"] = config.token
    if config.scheme:
        auth: dict[str, Any] = {"scheme": config.scheme} if version == "1.0" else {"schemes": [config.scheme]}
        if config.credentials:
            auth["credentials"] = config.credentials
        inner["authentication"] = auth
    if version == "1.0":
        return {"taskId": task_id, **inner}
    return {"taskId": task_id, "pushNotificationConfig": inner}


def _is_state_change(data: Mapping[str, Any]) -> bool:
    """A run-log event that tells a state of the task: the task as submitted, or a status update (not progress)."""
    if data.get("kind") == "task":
        return True
    return data.get("kind") == "status-update" and not data.get("metadata")


class PushNotifier:
    """Delivers each state change of a task to the task's webhooks, in order per task, off the run's path."""

    def __init__(self, leases: Leases, *, allowed_hosts: frozenset[str]) -> None:
        self._leases = leases
        self._memory = leases.memory
        self._allowed = allowed_hosts
        self._client = httpx.AsyncClient(timeout=_TIMEOUT_SECONDS, follow_redirects=False)
        self._queues: dict[str, asyncio.Queue[_Queued]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    async def check_url(self, url: str) -> None:
        """Refuse a webhook that is not http(s), or whose host resolves to a private, loopback or
        link-local address, unless `A2A_PUSH_ALLOWED_HOSTS` names the host.

        Raises:
            PushConfigError: the URL is refused.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PushConfigError(f"push notification url {url!r} must be an absolute http or https URL")
        host = parts.hostname.lower()
        if host in self._allowed:
            return
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            found = await asyncio.get_running_loop().getaddrinfo(host, port)
        except (OSError, ValueError) as exc:
            raise PushConfigError(f"push notification url {url!r}: cannot resolve {host!r} ({exc})") from None
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if not address.is_global or address.is_multicast:
                raise PushConfigError(
                    f"push notification url {url!r} resolves to a private, loopback or link-local address "
                    f"({address}); allow its host with A2A_PUSH_ALLOWED_HOSTS to use it"
                )

    def notify(
        self, task_id: str, event_id: str, data: dict[str, Any], *, configs: list[dict[str, Any]] | None = None
    ) -> None:
        """Queue one run-log event of the task for its webhooks (ignored unless it is a state change).

        `configs`: the task's push configs as read with the event's write (None: read them first).
        """
        if not _is_state_change(data) or configs == []:
            return
        queue = self._queues.get(task_id)
        if queue is None:
            queue = self._queues[task_id] = asyncio.Queue()
            worker = asyncio.get_running_loop().create_task(self._work(task_id, queue), name=f"push-{task_id}")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        queue.put_nowait((event_id, data, configs))

    @staticmethod
    def claimed_task(lease: str) -> str | None:
        """The task of a delivery lease (None: the lease is not a delivery's)."""
        if not lease.startswith(_CLAIM_PREFIX):
            return None
        return lease[len(_CLAIM_PREFIX) :].split(":", 1)[0]

    async def replay(self, task_id: str) -> None:
        """Queue every state change of the task's log: those already delivered (by any replica) are skipped."""
        after: str | None = None
        while events := await self._memory.read_run_events(task_id, after=after, limit=100):
            for event in events:
                self.notify(task_id, event.id, event.data)
            after = events[-1].id

    async def aclose(self, *, grace: float = 5.0) -> None:
        """Give pending notifications `grace` seconds, drop what is left, and close the HTTP client."""
        if self._workers:
            await asyncio.wait(list(self._workers), timeout=grace)
        for worker in list(self._workers):
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self._client.aclose()

    async def _work(self, task_id: str, queue: asyncio.Queue[_Queued]) -> None:
        try:
            while not queue.empty():
                event_id, data, configs = queue.get_nowait()
                try:
                    if configs is None:
                        configs = await self._memory.list_push_configs(task_id)
                except PaisError as exc:
                    logger.warning("push notifications of task %s skipped: %s", task_id, exc.message)
                    continue
                if not configs:
                    continue
                payload = to_v1_stream_response(STREAM_EVENT.validate_python(data))
                for inner in payload.values():
                    inner["metadata"] = {**inner.get("metadata", {}), EVENT_ID_METADATA_KEY: event_id}
                await asyncio.gather(
                    *(self._deliver(task_id, PushConfig.model_validate(c), event_id, payload) for c in configs)
                )
        finally:
            self._queues.pop(task_id, None)

    async def _deliver(self, task_id: str, config: PushConfig, event_id: str, payload: dict[str, Any]) -> None:
        claim = f"{_CLAIM_PREFIX}{task_id}:{config.id}:{event_id}"
        holder = self._leases.holder
        try:
            await self.check_url(config.url)  # again: what a name resolves to can change
            if not await self._memory.acquire_lease(claim, holder, ttl_seconds=self._leases.ttl_seconds):
                return  # being delivered by another replica
            if await self._memory.push_delivered(task_id, config.id, event_id):
                await self._memory.release_lease(claim, holder)
                return
        except PushConfigError as exc:
            logger.warning("push notification of task %s not sent: %s", task_id, exc)
            return
        except PaisError as exc:
            logger.warning("push notification of task %s not sent: %s", task_id, exc.message)
            return
        self._leases.keep(claim)
        try:
            await self._post(task_id, config, event_id, payload)
        finally:  # cancelled (shutting down): the lease runs out and another replica delivers
            self._leases.drop(claim)
        try:
            await self._memory.mark_push_delivered(task_id, config.id, event_id)
            await self._memory.release_lease(claim, holder)
        except PaisError as exc:  # the lease runs out: another replica delivers it again
            logger.warning("push notification %s of task %s not recorded: %s", event_id, task_id, exc.message)

    async def _post(self, task_id: str, config: PushConfig, event_id: str, payload: dict[str, Any]) -> None:
        """POST the notification, retrying with backoff; a failure is logged (and given up)."""
        headers: dict[str, str] = {}
        if config.token:
            headers[NOTIFICATION_TOKEN_HEADER] = config.token
        if config.scheme and config.credentials:
            headers["Authorization"] = f"{config.scheme} {config.credentials}"
        problem = ""
        for attempt in range(_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                response = await self._client.post(config.url, json=payload, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in _RETRIED_STATUSES:
                break
        logger.warning("push notification %s of task %s to %s failed: %s", event_id, task_id, config.url, problem)
