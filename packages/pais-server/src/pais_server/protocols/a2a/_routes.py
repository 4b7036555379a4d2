"""`POST /`: the A2A JSON-RPC 2.0 endpoint, in A2A 0.3, A2A 1.0 and the KAOS dialect.

The `A2A-Version` header decides the shapes of the reply (A2A 1.0, section 3.6): `1.0` the 1.0
shapes, `0.3` the 0.3 shapes, none the 0.3 shapes with KAOS's additions (`to_kaos`). Method names
of both families (`message/send`, `SendMessage`) work with every version; params are read in
either shape. All share one task store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response

from pais_core import (
    A2A_METHODS,
    A2A_VERSION_HEADER,
    A2AVersion,
    BadRequestError,
    JsonRpcError,
    JsonRpcErrorCode,
    JsonRpcRequest,
    JsonRpcResponse,
    ListTasksParams,
    ListTasksResult,
    MessageSendParams,
    PaisError,
    StreamEvent,
    Task,
    TaskIdParams,
    TaskQueryParams,
    from_v1,
    negotiate_a2a_version,
    to_kaos,
    to_v1,
    to_v1_stream_response,
)
from pais_delegation import depth_from_headers

from ...http._json_body import InvalidUnicodeError, parse_json
from .._disconnect import cancels_on_disconnect
from .._sse import event_stream
from ._push import push_config_to_wire
from ._tasks import A2AError, A2ATasks

__all__ = ["A2ATasksDep", "router"]

logger = logging.getLogger("pais_server.a2a")

router = APIRouter()

_Id = str | int | None

_PUSH_CONFIG_METHODS: dict[str, str] = {
    **{f"{verb}TaskPushNotificationConfig": verb.lower() for verb in ("Create", "Set", "Get", "List", "Delete")},
    "ListTaskPushNotificationConfigs": "list",
    **{f"tasks/pushNotificationConfig/{verb}": verb for verb in ("set", "get", "list", "delete")},
}
"""Push-notification config methods of both dialects, mapped to what they do (`create` is `set`)."""
_PUSH_CONFIG_KEYS = ("taskPushNotificationConfig", "pushNotificationConfig")
"""Where a send's configuration carries its push-notification config (1.0, 0.3)."""


async def _tasks(request: Request) -> A2ATasks:  # async: no thread-pool hop
    tasks: A2ATasks = request.app.state.a2a_tasks
    return tasks


A2ATasksDep = Annotated[A2ATasks, Depends(_tasks)]


def _reply(request_id: _Id, result: Any) -> Response:
    return JSONResponse(JsonRpcResponse(id=request_id, result=result).to_wire())


def _error(request_id: _Id, code: JsonRpcErrorCode, message: str) -> Response:
    """A JSON-RPC error; HTTP 200 like every JSON-RPC answer, so clients read the code."""
    error = JsonRpcError(code=int(code), message=message)
    return JSONResponse(JsonRpcResponse(id=request_id, error=error).to_wire())


def _wire(model: BaseModel, version: A2AVersion, kaos: bool = False) -> Any:
    if version == "1.0":
        return to_v1(model)
    if kaos and isinstance(model, Task | ListTasksResult):
        return to_kaos(model)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _event_wire(event: StreamEvent, version: A2AVersion, kaos: bool = False) -> Any:
    """A send result or stream event: 1.0 wraps it (`{"task": ...}`), 0.3 tags it with `kind`."""
    return to_v1_stream_response(event) if version == "1.0" else _wire(event, version, kaos)


def _request_id(data: Any) -> _Id:
    found = cast(dict[str, Any], data).get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str | int) and not isinstance(found, bool) else None


def _lenient_id(body: bytes) -> _Id:
    """The request id of a body only Python's lenient parser reads (it keeps lone surrogates), if printable."""
    try:
        request_id = _request_id(json.loads(body))
        if isinstance(request_id, str):
            request_id.encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None
    return request_id


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where or 'params'}: {error['msg']}"


@router.post("/", include_in_schema=False)
async def a2a_jsonrpc(request: Request, tasks: A2ATasksDep) -> Response:
    """A2A task lifecycle: send, stream, subscribe, get, cancel and list."""
    body = await request.body()
    try:
        data = parse_json(body)
    except InvalidUnicodeError as exc:  # well-formed JSON-RPC otherwise: answer its id
        return _error(_lenient_id(body), JsonRpcErrorCode.INVALID_PARAMS, f"invalid request: {exc}")
    except ValueError as exc:
        return _error(None, JsonRpcErrorCode.PARSE_ERROR, f"the request body is not valid JSON: {exc}")
    request_id = _request_id(data)
    try:
        rpc = JsonRpcRequest.model_validate(data)
    except ValidationError as exc:
        return _error(
            request_id, JsonRpcErrorCode.INVALID_REQUEST, f"not a JSON-RPC 2.0 request: {_first_problem(exc)}"
        )
    found = A2A_METHODS.get(rpc.method)
    push_operation = _PUSH_CONFIG_METHODS.get(rpc.method)
    if found is None and push_operation is None:
        return _error(rpc.id, JsonRpcErrorCode.METHOD_NOT_FOUND, f"method {rpc.method!r} not found")
    asked = request.headers.get(A2A_VERSION_HEADER)
    version = negotiate_a2a_version(asked)
    if version is None:
        return _error(
            rpc.id, JsonRpcErrorCode.VERSION_NOT_SUPPORTED, f"A2A-Version {asked!r} is not supported; use 1.0 or 0.3"
        )
    kaos = not (asked or "").strip()
    params = rpc.params or {}
    try:
        if push_operation is not None:
            return _reply(rpc.id, await _push_config_call(tasks, push_operation, params, version))
        assert found is not None
        operation, _ = found
        if operation in ("send", "stream"):
            cancel_on_disconnect = cancels_on_disconnect(request.headers)
            push = _check_send(params, kaos=kaos)
            send = from_v1(MessageSendParams, params)
            run = await tasks.submit(
                send, depth=depth_from_headers(request.headers), stream=operation == "stream", push=push
            )
            if operation == "stream":
                stop = run.token.cancel if cancel_on_disconnect else None
                return event_stream(_stream_payloads(rpc.id, run.stream(), version, on_disconnect=stop))
            blocking = run.budgets is None and (send.configuration is None or send.configuration.blocking is not False)
            return _reply(rpc.id, _event_wire(await run.result() if blocking else run.snapshot(), version, kaos))
        if operation == "get":
            query = from_v1(TaskQueryParams, params)
            task = await tasks.get(query.id, history_length=query.history_length)
            return _reply(rpc.id, _wire(task, version, kaos))
        if operation == "cancel":
            return _reply(rpc.id, _wire(await tasks.cancel(from_v1(TaskIdParams, params).id), version, kaos))
        if operation == "resubscribe":
            events = await tasks.subscribe(from_v1(TaskIdParams, params).id)
            return event_stream(_stream_payloads(rpc.id, events, version))
        if operation == "list":
            listing = from_v1(ListTasksParams, params)
            include_artifacts = version == "0.3" or params.get("includeArtifacts") is True
            page = await tasks.list(listing, include_artifacts=include_artifacts)
            return _reply(rpc.id, _wire(page, version, kaos))
        return _error(rpc.id, JsonRpcErrorCode.UNSUPPORTED_OPERATION, f"{rpc.method} is not supported by this agent")
    except ValidationError as exc:
        return _error(
            rpc.id, JsonRpcErrorCode.INVALID_PARAMS, f"invalid params for {rpc.method}: {_first_problem(exc)}"
        )
    except A2AError as exc:
        return _error(rpc.id, exc.code, exc.message)
    except BadRequestError as exc:
        return _error(rpc.id, JsonRpcErrorCode.INVALID_PARAMS, exc.message)
    except PaisError as exc:
        logger.warning("A2A %s failed: %s", rpc.method, exc.message)
        return _error(rpc.id, JsonRpcErrorCode.INTERNAL_ERROR, exc.message)


def _check_send(params: dict[str, Any], *, kaos: bool) -> dict[str, Any] | None:
    """What a send needs beyond its model: a client-chosen `messageId` (the KAOS dialect may omit it).
    Returns the push-notification config of its configuration, taken out of it, if any.

    Raises:
        A2AError: the params ask for something this agent refuses.
    """
    message = params.get("message")
    if not kaos and isinstance(message, dict) and not cast(dict[str, Any], message).get("messageId"):
        raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, "message.messageId is required")
    configuration = params.get("configuration")
    if not isinstance(configuration, dict):
        return None
    found = [cast(dict[str, Any], configuration).pop(key, None) for key in _PUSH_CONFIG_KEYS]
    push = next((item for item in found if item is not None), None)
    if push is not None and not isinstance(push, dict):
        raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, "configuration.pushNotificationConfig must be an object")
    return cast(dict[str, Any] | None, push)


async def _push_config_call(tasks: A2ATasks, operation: str, params: dict[str, Any], version: A2AVersion) -> Any:
    """A push-notification config method, its params read in either version's shape (1.0: `taskId`,
    or its proto name `task_id`, and the config's `id`; 0.3: the task's `id` and `pushNotificationConfigId`),
    answered in `version`'s.

    Raises:
        A2AError: no such task or config, or invalid params.
    """
    if "task_id" in params and "taskId" not in params:  # ProtoJSON parsers accept the proto field name too
        params = {**params, "taskId": params["task_id"]}
    task_id = params.get("taskId") if "taskId" in params else params.get("id")
    if not isinstance(task_id, str) or not task_id:
        raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, "params.taskId (0.3: params.id) must name the task")
    if operation in ("create", "set"):
        config = await tasks.set_push_config(task_id, params.get("pushNotificationConfig", params))
        return push_config_to_wire(task_id, config, version)
    if operation == "list":
        configs = [push_config_to_wire(task_id, c, version) for c in await tasks.list_push_configs(task_id)]
        return {"configs": configs, "nextPageToken": ""} if version == "1.0" else configs
    config_id = params.get("pushNotificationConfigId", params.get("id") if "taskId" in params else task_id)
    if not isinstance(config_id, str) or not config_id:
        raise A2AError(
            JsonRpcErrorCode.INVALID_PARAMS, "params.id (0.3: pushNotificationConfigId) must name the config"
        )
    if operation == "get":
        return push_config_to_wire(task_id, await tasks.get_push_config(task_id, config_id), version)
    await tasks.delete_push_config(task_id, config_id)
    return {} if version == "1.0" else None


async def _stream_payloads(
    request_id: _Id,
    events: AsyncIterator[StreamEvent],
    version: A2AVersion,
    *,
    on_disconnect: Callable[[], None] | None = None,
) -> AsyncGenerator[str]:
    """Each task event as the JSON-RPC response that one server-sent event carries.

    `on_disconnect` is called when the client goes away before the last event.
    """
    ended = False
    try:
        async for event in events:
            body = JsonRpcResponse(id=request_id, result=_event_wire(event, version)).to_wire()
            yield json.dumps(body, separators=(",", ":"))
        ended = True
    finally:
        if not ended and on_disconnect is not None:
            on_disconnect()
