"""A JSON-RPC 2.0 client for the A2A task lifecycle, speaking protocol 0.3 or 1.0."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError

from pais_core import (
    SEND_MESSAGE_RESULT,
    STREAM_EVENT,
    A2AOperation,
    A2AVersion,
    ListTasksParams,
    ListTasksResult,
    Message,
    MessageSendConfiguration,
    MessageSendParams,
    StreamEvent,
    Task,
    TaskIdParams,
    TaskQueryParams,
    a2a_method,
    from_v1,
    from_v1_stream_response,
    new_a2a_id,
    to_v1,
)

__all__ = ["VERSION_HEADER", "A2AClient", "A2AProtocolError", "A2ARpcError"]

VERSION_HEADER = "A2A-Version"
"""Request header naming the protocol version of the call's shapes (a2a-sdk servers require it for 1.0)."""

_ModelT = TypeVar("_ModelT", bound=BaseModel)


class A2ARpcError(Exception):
    """The agent answered with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data


class A2AProtocolError(Exception):
    """The agent's answer is not a valid JSON-RPC / A2A response."""


class A2AClient:
    """Send, stream, get, cancel and list A2A tasks at one JSON-RPC endpoint.

    `version` picks the method names and JSON shapes: `"0.3"` (`message/send`, `kind` fields) or
    `"1.0"` (`SendMessage`, `TASK_STATE_*`). Results are always the `pais_core` models.
    Without `http_client` the client opens its own and `aclose()` closes it.
    """

    def __init__(
        self,
        url: str,
        *,
        version: A2AVersion = "0.3",
        http_client: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.url = url
        self.version: A2AVersion = version
        self.headers = {VERSION_HEADER: version, **(headers or {})}
        self.timeout = timeout
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient()

    async def send_message(
        self,
        message: Message,
        *,
        configuration: MessageSendConfiguration | None = None,
        metadata: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Task | Message:
        """Send `message`; the agent answers with a task or a direct message."""
        params = MessageSendParams(message=message, configuration=configuration, metadata=metadata)
        result = await self._call("send", params, headers)
        try:
            if self.version == "1.0":
                event = from_v1_stream_response(result)
                if isinstance(event, Task | Message):
                    return event
                raise A2AProtocolError(f"send result is a {event.kind} event, not a task or message")
            return SEND_MESSAGE_RESULT.validate_python(result)
        except (ValidationError, ValueError) as exc:
            raise A2AProtocolError(f"invalid send result: {_short(exc)}") from exc

    async def stream_message(
        self,
        message: Message,
        *,
        configuration: MessageSendConfiguration | None = None,
        metadata: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Send `message` and yield the task's events (SSE) until the agent ends the stream."""
        params = MessageSendParams(message=message, configuration=configuration, metadata=metadata)
        request = self._http.build_request(
            "POST",
            self.url,
            json=self._envelope("stream", params),
            headers={**self.headers, **(headers or {}), "Accept": "text/event-stream"},
            timeout=httpx.Timeout(self.timeout),
        )
        response = await self._http.send(request, stream=True)
        try:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()
                self._result(response)
                raise A2AProtocolError(f"expected an event stream, got {response.headers.get('content-type')!r}")
            async for data in _sse_data(response):
                yield self._event(_rpc_result(_json(data)))
        finally:
            await response.aclose()

    async def get_task(
        self, task_id: str, *, history_length: int | None = None, headers: Mapping[str, str] | None = None
    ) -> Task:
        """The task's current state."""
        result = await self._call("get", TaskQueryParams(id=task_id, historyLength=history_length), headers)
        return _parse(Task, result)

    async def cancel_task(self, task_id: str, *, headers: Mapping[str, str] | None = None) -> Task:
        """Ask the agent to cancel the task; returns its state after the request."""
        return _parse(Task, await self._call("cancel", TaskIdParams(id=task_id), headers))

    async def list_tasks(
        self, params: ListTasksParams | None = None, *, headers: Mapping[str, str] | None = None
    ) -> ListTasksResult:
        """One page of the agent's tasks, filtered by `params`."""
        return _parse(ListTasksResult, await self._call("list", params or ListTasksParams(), headers))

    async def aclose(self) -> None:
        """Close the HTTP client if this client opened it."""
        if self._owned:
            await self._http.aclose()

    def _envelope(self, operation: A2AOperation, params: BaseModel) -> dict[str, Any]:
        wire = (
            to_v1(params) if self.version == "1.0" else params.model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        return {"jsonrpc": "2.0", "id": new_a2a_id(), "method": a2a_method(operation, self.version), "params": wire}

    async def _call(self, operation: A2AOperation, params: BaseModel, headers: Mapping[str, str] | None) -> Any:
        response = await self._http.post(
            self.url,
            json=self._envelope(operation, params),
            headers={**self.headers, **(headers or {})},
            timeout=httpx.Timeout(self.timeout),
        )
        return self._result(response)

    def _result(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            response.raise_for_status()
            raise A2AProtocolError(f"response is not JSON: {response.text[:200]!r}") from None
        if isinstance(body, dict) and "error" in body and cast(dict[str, Any], body).get("jsonrpc") == "2.0":
            return _rpc_result(body)
        response.raise_for_status()
        return _rpc_result(body)

    def _event(self, result: Any) -> StreamEvent:
        try:
            if self.version == "1.0":
                return from_v1_stream_response(result)
            return STREAM_EVENT.validate_python(result)
        except (ValidationError, ValueError) as exc:
            raise A2AProtocolError(f"invalid stream event: {_short(exc)}") from exc


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise A2AProtocolError(f"stream event is not JSON: {data[:200]!r}") from exc


def _rpc_result(body: Any) -> Any:
    if not isinstance(body, dict):
        raise A2AProtocolError(f"expected a JSON-RPC response object, got {type(body).__name__}")
    data = cast(dict[str, Any], body)
    error = data.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise A2AProtocolError(f"JSON-RPC error is not an object: {error!r}")
        error_obj = cast(dict[str, Any], error)
        code = error_obj.get("code")
        return_code = code if isinstance(code, int) else 0
        raise A2ARpcError(return_code, str(error_obj.get("message", "")), error_obj.get("data"))
    if "result" not in data:
        raise A2AProtocolError("JSON-RPC response has neither result nor error")
    return data["result"]


def _parse(model: type[_ModelT], result: Any) -> _ModelT:
    try:
        return from_v1(model, result)
    except ValidationError as exc:
        raise A2AProtocolError(f"invalid {model.__name__} in result: {_short(exc)}") from exc


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The `data` of each server-sent event; an `error` event's data is raised as its JSON-RPC error.

    Parsed here because the stream arrives on the caller's `httpx` client and no SSE reader for `httpx`
    is locked (`httpx-sse` is not in uv.lock; httpx2's `EventSource` reads httpx2 responses only).
    """
    event, chunks = "message", list[str]()
    async for line in response.aiter_lines():
        if not line:
            if chunks:
                data = "\n".join(chunks)
                if event == "error":
                    _rpc_result(_json(data))
                    raise A2AProtocolError(f"stream error event: {data[:200]!r}")
                yield data
            event, chunks = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                chunks.append(value)
    if chunks:
        yield "\n".join(chunks)
