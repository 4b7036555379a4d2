"""A2A wire models: the agent card, messages, tasks, stream events and JSON-RPC 2.0 envelopes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from enum import IntEnum
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

__all__ = [
    "A2A_METHODS",
    "A2A_VERSION_HEADER",
    "KAOS_PROTOCOLS",
    "SEND_MESSAGE_RESULT",
    "STREAM_EVENT",
    "TERMINAL_TASK_STATES",
    "A2AOperation",
    "A2AVersion",
    "AgentCapabilities",
    "AgentCard",
    "AgentInterface",
    "AgentSkill",
    "Artifact",
    "DataPart",
    "FileContent",
    "FilePart",
    "JsonRpcError",
    "JsonRpcErrorCode",
    "JsonRpcRequest",
    "JsonRpcResponse",
    "ListTasksParams",
    "ListTasksResult",
    "Message",
    "MessageSendConfiguration",
    "MessageSendParams",
    "Part",
    "Role",
    "SendMessageResult",
    "StreamEvent",
    "Task",
    "TaskArtifactUpdateEvent",
    "TaskBudgets",
    "TaskEvent",
    "TaskIdParams",
    "TaskQueryParams",
    "TaskState",
    "TaskStatus",
    "TaskStatusUpdateEvent",
    "TextPart",
    "a2a_method",
    "from_v1",
    "from_v1_stream_response",
    "negotiate_a2a_version",
    "new_a2a_id",
    "parts_text",
    "to_kaos",
    "to_v1",
    "to_v1_stream_response",
]

A2A_PROTOCOL_VERSION = "0.3.0"


# Every model here builds its validator and serializer on first use instead of at import: a server
# pays for the A2A shapes (~10 ms) on its first A2A call or card request, not while it starts.
_DEFERRED = ConfigDict(defer_build=True)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class AgentSkill(_Wire):
    id: str
    name: str
    description: str
    tags: list[str] = Field(default_factory=list[str])
    examples: list[str] | None = None


class AgentCapabilities(_Wire):
    streaming: bool = True
    push_notifications: bool = Field(default=False, alias="pushNotifications")
    state_transition_history: bool = Field(default=False, alias="stateTransitionHistory")


class AgentInterface(_Wire):
    url: str
    transport: str = "JSONRPC"
    protocol_binding: str = Field(default="JSONRPC", alias="protocolBinding")
    protocol_version: str = Field(default=A2A_PROTOCOL_VERSION, alias="protocolVersion")


class AgentCard(_Wire):
    """A2A agent card; unknown fields are kept so newer cards round-trip."""

    name: str
    description: str
    url: str
    version: str
    protocol_version: str = Field(default=A2A_PROTOCOL_VERSION, alias="protocolVersion")
    preferred_transport: str = Field(default="JSONRPC", alias="preferredTransport")
    capabilities: AgentCapabilities = Field(default_factory=AgentCapabilities)
    default_input_modes: list[str] = Field(default_factory=lambda: ["text/plain"], alias="defaultInputModes")
    default_output_modes: list[str] = Field(default_factory=lambda: ["text/plain"], alias="defaultOutputModes")
    skills: list[AgentSkill] = Field(default_factory=list[AgentSkill])
    additional_interfaces: list[AgentInterface] = Field(
        default_factory=list[AgentInterface], alias="additionalInterfaces"
    )
    supported_interfaces: list[AgentInterface] = Field(
        default_factory=list[AgentInterface], alias="supportedInterfaces"
    )
    security_schemes: dict[str, Any] | None = Field(default=None, alias="securitySchemes")
    security: list[dict[str, list[str]]] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The card as JSON-ready camelCase data, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- Messages, tasks and events --------------------------------------------------------------
#
# The models below use the A2A 0.3 JSON shapes (camelCase, `kind` discriminators, lower-case
# task states). A2A 1.0 (the shapes behind `SendMessage`, `GetTask`, ...) drops the `kind`
# fields and spells enums as `ROLE_USER` / `TASK_STATE_COMPLETED`; `to_v1` and the `from_v1_*`
# functions convert between the two so one set of models serves both protocol versions.

TaskState = Literal[
    "submitted",
    "working",
    "input-required",
    "completed",
    "canceled",
    "failed",
    "rejected",
    "auth-required",
    "unknown",
]
TERMINAL_TASK_STATES: frozenset[TaskState] = frozenset({"completed", "canceled", "failed", "rejected"})
"""States a task never leaves."""

Role = Literal["user", "agent"]


def new_a2a_id() -> str:
    """Return a fresh id for a message, task or artifact (UUIDv4)."""
    return str(uuid.uuid4())


class TextPart(_Wire):
    kind: Literal["text"] = "text"
    text: str
    metadata: dict[str, Any] | None = None


class FileContent(_Wire):
    """A file given inline (`bytes`, base64) or by `uri`."""

    bytes_: str | None = Field(default=None, alias="bytes")
    uri: str | None = None
    mime_type: str | None = Field(default=None, alias="mimeType")
    name: str | None = None


class FilePart(_Wire):
    kind: Literal["file"] = "file"
    file: FileContent
    metadata: dict[str, Any] | None = None


class DataPart(_Wire):
    kind: Literal["data"] = "data"
    data: Any
    metadata: dict[str, Any] | None = None


Part = Annotated[TextPart | FilePart | DataPart, Field(discriminator="kind")]


def parts_text(parts: Sequence[TextPart | FilePart | DataPart]) -> str:
    """The text parts of `parts`, joined by newlines."""
    return "\n".join(part.text for part in parts if isinstance(part, TextPart))


class Message(_Wire):
    """One message between a client (`user`) and an agent (`agent`)."""

    kind: Literal["message"] = "message"
    message_id: str = Field(default_factory=new_a2a_id, alias="messageId")
    role: Role
    parts: list[Part]
    context_id: str | None = Field(default=None, alias="contextId")
    task_id: str | None = Field(default=None, alias="taskId")
    reference_task_ids: list[str] | None = Field(default=None, alias="referenceTaskIds")
    extensions: list[str] | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_session_id(cls, data: Any) -> Any:
        """KAOS clients may name the context `sessionId`."""
        if isinstance(data, dict) and "contextId" not in data and "sessionId" in data:
            fields = cast(dict[str, Any], data)
            return {**{k: v for k, v in fields.items() if k != "sessionId"}, "contextId": fields["sessionId"]}
        return cast(Any, data)

    def text(self) -> str:
        """The message's text parts joined by newlines."""
        return parts_text(self.parts)


class TaskStatus(_Wire):
    state: TaskState
    message: Message | None = None
    timestamp: str | None = None


class Artifact(_Wire):
    artifact_id: str = Field(default_factory=new_a2a_id, alias="artifactId")
    name: str | None = None
    description: str | None = None
    parts: list[Part]
    extensions: list[str] | None = None
    metadata: dict[str, Any] | None = None


class TaskEvent(_Wire):
    """One entry of a task's lifecycle log (`task.working`, `autonomous.iteration.started`, ...)."""

    id: str = Field(default_factory=new_a2a_id)
    type: str
    timestamp: str
    data: dict[str, Any] = Field(default_factory=dict[str, Any])


class Task(_Wire):
    """A unit of work; `context_id` groups the tasks of one conversation (PAIS: the session).

    `events` and `autonomous` are PAIS's own bookkeeping: stored with the task (`to_record`) and
    shown in the KAOS dialect (`to_kaos`), never in the A2A 0.3 or 1.0 shapes.
    """

    kind: Literal["task"] = "task"
    id: str = Field(default_factory=new_a2a_id)
    context_id: str = Field(alias="contextId")
    status: TaskStatus
    artifacts: list[Artifact] | None = None
    history: list[Message] | None = None
    metadata: dict[str, Any] | None = None
    events: list[TaskEvent] = Field(default_factory=list[TaskEvent], exclude=True)
    autonomous: bool = Field(default=False, exclude=True)

    def to_record(self) -> dict[str, Any]:
        """The task as stored: its 0.3 JSON plus the lifecycle events and the autonomous flag."""
        record = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        record["events"] = [event.model_dump(mode="json") for event in self.events]
        record["autonomous"] = self.autonomous
        return record

    def text(self) -> str:
        """The task's answer: its artifacts' text, else the status message's, else the last agent message's."""
        if self.artifacts and (text := "\n".join(parts_text(a.parts) for a in self.artifacts)):
            return text
        if self.status.message is not None and (text := self.status.message.text()):
            return text
        agent_messages = [m for m in self.history or [] if m.role == "agent"]
        return agent_messages[-1].text() if agent_messages else ""


class TaskStatusUpdateEvent(_Wire):
    kind: Literal["status-update"] = "status-update"
    task_id: str = Field(alias="taskId")
    context_id: str = Field(alias="contextId")
    status: TaskStatus
    final: bool = False
    metadata: dict[str, Any] | None = None


class TaskArtifactUpdateEvent(_Wire):
    kind: Literal["artifact-update"] = "artifact-update"
    task_id: str = Field(alias="taskId")
    context_id: str = Field(alias="contextId")
    artifact: Artifact
    append: bool | None = None
    last_chunk: bool | None = Field(default=None, alias="lastChunk")
    metadata: dict[str, Any] | None = None


SendMessageResult = Annotated[Task | Message, Field(discriminator="kind")]
"""What `message/send` returns."""
StreamEvent = Annotated[Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent, Field(discriminator="kind")]
"""One event of a `message/stream` response."""

SEND_MESSAGE_RESULT: TypeAdapter[Task | Message] = TypeAdapter(SendMessageResult, config=_DEFERRED)
STREAM_EVENT: TypeAdapter[Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent] = TypeAdapter(
    StreamEvent, config=_DEFERRED
)


class TaskBudgets(_Wire):
    """Limits of an autonomous task (KAOS); `0` means unlimited, unset means the server's default."""

    max_iterations: int | None = Field(default=None, alias="maxIterations", ge=0)
    max_runtime_seconds: float | None = Field(default=None, alias="maxRuntimeSeconds", ge=0, allow_inf_nan=False)
    max_tool_calls: int | None = Field(default=None, alias="maxToolCalls", ge=0)
    interval_seconds: float | None = Field(default=None, alias="intervalSeconds", ge=0, allow_inf_nan=False)


class MessageSendConfiguration(_Wire):
    accepted_output_modes: list[str] | None = Field(default=None, alias="acceptedOutputModes")
    blocking: bool | None = None
    history_length: int | None = Field(default=None, alias="historyLength")
    mode: Literal["interactive", "autonomous"] | None = None
    """KAOS: `autonomous` runs the agent on the message as a goal, in iterations, within `budgets`."""
    budgets: TaskBudgets | None = None


class MessageSendParams(_Wire):
    """Params of `message/send` and `message/stream`."""

    message: Message
    configuration: MessageSendConfiguration | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _params_context(cls, data: Any) -> Any:
        """KAOS clients give the context beside the message (`contextId`, or the legacy `sessionId`)."""
        if not isinstance(data, dict):
            return data
        params = cast(dict[str, Any], data)
        context = params.get("contextId", params.get("sessionId"))
        message = params.get("message")
        if context is None or not isinstance(message, dict):
            return params
        inner = cast(dict[str, Any], message)
        if inner.get("contextId", inner.get("sessionId")) is not None:
            return params
        rest = {k: v for k, v in params.items() if k not in ("contextId", "sessionId")}
        return {**rest, "message": {**inner, "contextId": context}}


class TaskQueryParams(_Wire):
    """Params of `tasks/get`."""

    id: str
    history_length: int | None = Field(default=None, alias="historyLength", ge=0)
    metadata: dict[str, Any] | None = None


class TaskIdParams(_Wire):
    """Params of `tasks/cancel` and `tasks/resubscribe`."""

    id: str
    metadata: dict[str, Any] | None = None


_ISO_8601_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T")


class ListTasksParams(_Wire):
    """Params of `tasks/list` (`ListTasks`)."""

    context_id: str | None = Field(default=None, alias="contextId")
    status: TaskState | None = None
    page_size: int | None = Field(default=None, alias="pageSize", ge=1, le=100)
    page_token: str | None = Field(default=None, alias="pageToken")
    history_length: int | None = Field(default=None, alias="historyLength", ge=0)
    status_timestamp_after: AwareDatetime | None = Field(default=None, alias="statusTimestampAfter")
    """Only tasks whose status changed at or after this instant (ISO 8601 with a time zone)."""

    @field_validator("status_timestamp_after", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        """A timestamp in A2A JSON is an ISO 8601 string (section 5.6.1), never a number of seconds."""
        if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_8601_DATE.match(value)):
            raise ValueError("must be an ISO 8601 timestamp such as 2026-01-01T00:00:00Z")
        return value


class ListTasksResult(_Wire):
    tasks: list[Task] = Field(default_factory=list[Task])
    next_page_token: str = Field(default="", alias="nextPageToken")
    page_size: int | None = Field(default=None, alias="pageSize")
    total_size: int | None = Field(default=None, alias="totalSize")


# --- JSON-RPC 2.0 ------------------------------------------------------------------------------

A2AVersion = Literal["0.3", "1.0"]

A2A_VERSION_HEADER = "A2A-Version"
"""The request header that picks the protocol version of a call's shapes (A2A 1.0, section 3.6)."""
_VERSION = re.compile(r"^\s*([0-9]{1,9})\.([0-9]{1,9})(?:\.[0-9]{1,9})?\s*$")  # `int` refuses 4300+ digits


def negotiate_a2a_version(header: str | None) -> A2AVersion | None:
    """The version an `A2A-Version` header asks for: absent or empty is 0.3; None when it is unsupported."""
    if header is None or not header.strip():
        return "0.3"
    found = _VERSION.match(header)
    if found is None:
        return None
    major_minor = (int(found.group(1)), int(found.group(2)))
    return "1.0" if major_minor == (1, 0) else "0.3" if major_minor == (0, 3) else None


A2AOperation = Literal["send", "stream", "get", "cancel", "list", "resubscribe"]

_METHOD_NAMES: dict[A2AVersion, dict[A2AOperation, str]] = {
    "0.3": {
        "send": "message/send",
        "stream": "message/stream",
        "get": "tasks/get",
        "cancel": "tasks/cancel",
        "list": "tasks/list",
        "resubscribe": "tasks/resubscribe",
    },
    "1.0": {
        "send": "SendMessage",
        "stream": "SendStreamingMessage",
        "get": "GetTask",
        "cancel": "CancelTask",
        "list": "ListTasks",
        "resubscribe": "SubscribeToTask",
    },
}
A2A_METHODS: dict[str, tuple[A2AOperation, A2AVersion]] = {
    name: (operation, version) for version, names in _METHOD_NAMES.items() for operation, name in names.items()
}
"""Every accepted JSON-RPC method name mapped to its operation and the protocol version of its shapes."""


def a2a_method(operation: A2AOperation, version: A2AVersion) -> str:
    """The JSON-RPC method name of `operation` in protocol `version`."""
    return _METHOD_NAMES[version][operation]


class JsonRpcErrorCode(IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    TASK_NOT_FOUND = -32001
    TASK_NOT_CANCELABLE = -32002
    PUSH_NOTIFICATION_NOT_SUPPORTED = -32003
    UNSUPPORTED_OPERATION = -32004
    CONTENT_TYPE_NOT_SUPPORTED = -32005
    INVALID_AGENT_RESPONSE = -32006
    VERSION_NOT_SUPPORTED = -32009


class JsonRpcRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    jsonrpc: Literal["2.0"]
    method: str
    params: dict[str, Any] | None = None
    id: str | int | None = None


class JsonRpcError(BaseModel):
    model_config = _DEFERRED

    code: int
    message: str
    data: Any = None


class JsonRpcResponse(BaseModel):
    """A JSON-RPC 2.0 response; exactly one of `result` and `error` is meaningful."""

    model_config = _DEFERRED

    jsonrpc: Literal["2.0"] = "2.0"
    id: str | int | None = None
    result: Any = None
    error: JsonRpcError | None = None

    def to_wire(self) -> dict[str, Any]:
        """The response as JSON-ready data, with `result` or `error` (never both)."""
        data: dict[str, Any] = {"jsonrpc": self.jsonrpc, "id": self.id}
        if self.error is not None:
            data["error"] = self.error.model_dump(mode="json", exclude_none=True)
        else:
            data["result"] = self.result
        return data


# --- A2A 1.0 shapes ----------------------------------------------------------------------------

_V1_ROLE = {"user": "ROLE_USER", "agent": "ROLE_AGENT"}
_V03_ROLE = {v1: v03 for v03, v1 in _V1_ROLE.items()}
_OPAQUE_KEYS = frozenset({"metadata", "data"})
_STREAM_KEYS: dict[str, str] = {
    "task": "task",
    "message": "message",
    "status-update": "statusUpdate",
    "artifact-update": "artifactUpdate",
}


def _v1_state(state: str) -> str:
    return "TASK_STATE_" + state.upper().replace("-", "_")


def _v03_state(state: str) -> str:
    if state.startswith("TASK_STATE_"):
        state = state.removeprefix("TASK_STATE_").lower().replace("_", "-")
    return "unknown" if state == "unspecified" else state


def _part_to_v1(part: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in part.items() if k in ("metadata",)}
    kind = part.get("kind")
    if kind == "text":
        out["text"] = part["text"]
    elif kind == "data":
        out["data"] = part["data"]
    elif kind == "file":
        file: dict[str, Any] = part["file"]
        if "bytes" in file:
            out["raw"] = file["bytes"]
        else:
            out["url"] = file.get("uri", "")
        if "mimeType" in file:
            out["mediaType"] = file["mimeType"]
        if "name" in file:
            out["filename"] = file["name"]
    return out


def _part_from_v1(part: dict[str, Any]) -> dict[str, Any]:
    if "kind" in part:
        return part
    if part.get("type") in ("text", "file", "data"):  # the KAOS dialect names the kind `type`
        return {**{k: v for k, v in part.items() if k != "type"}, "kind": part["type"]}
    out: dict[str, Any] = {k: v for k, v in part.items() if k in ("metadata",)}
    if "text" in part:
        out.update(kind="text", text=part["text"])
    elif "data" in part:
        out.update(kind="data", data=part["data"])
    else:
        file = {"bytes": part["raw"]} if "raw" in part else {"uri": part.get("url", "")}
        if "mediaType" in part:
            file["mimeType"] = part["mediaType"]
        if "filename" in part:
            file["name"] = part["filename"]
        out.update(kind="file", file=file)
    return out


def _convert(value: Any, *, to_v1: bool) -> Any:
    """Walk JSON data, converting roles, task states, parts and send configuration between versions."""
    if isinstance(value, list):
        return [_convert(item, to_v1=to_v1) for item in cast(list[Any], value)]
    if not isinstance(value, dict):
        return value
    data = cast(dict[str, Any], value)
    out: dict[str, Any] = {}
    for key, item in data.items():
        if key in _OPAQUE_KEYS:
            out[key] = item
        elif to_v1 and key in ("kind", "final"):
            continue
        elif key == "role" and isinstance(item, str):
            out[key] = _V1_ROLE.get(item, item) if to_v1 else _V03_ROLE.get(item, item)
        elif key in ("state", "status") and isinstance(item, str):
            out[key] = _v1_state(item) if to_v1 else _v03_state(item)
        elif key == "parts" and isinstance(item, list):
            convert_part = _part_to_v1 if to_v1 else _part_from_v1
            out[key] = [_convert(convert_part(cast(dict[str, Any], p)), to_v1=to_v1) for p in cast(list[Any], item)]
        elif key == "blocking" and to_v1:
            out["returnImmediately"] = not item
        elif key == "returnImmediately" and not to_v1:
            out["blocking"] = not item
        else:
            out[key] = _convert(item, to_v1=to_v1)
    return out


def to_v1(model: BaseModel) -> dict[str, Any]:
    """A model's A2A 1.0 JSON (no `kind` fields, `ROLE_*` / `TASK_STATE_*` enums, 1.0 parts)."""
    return _convert(model.model_dump(mode="json", by_alias=True, exclude_none=True), to_v1=True)


def to_v1_stream_response(event: Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent) -> dict[str, Any]:
    """`event` wrapped the way 1.0 `SendMessage` results and stream events are (`{"task": ...}`, ...)."""
    return {_STREAM_KEYS[event.kind]: to_v1(event)}


_ModelT = TypeVar("_ModelT", bound=BaseModel)


def from_v1(model: type[_ModelT], data: Any) -> _ModelT:
    """Validate A2A 1.0 JSON (or 0.3 JSON, which passes through) as `model`.

    Raises:
        pydantic.ValidationError: the data does not fit `model`.
    """
    return model.model_validate(_convert(data, to_v1=False))


def from_v1_stream_response(data: Any) -> Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent:
    """Unwrap a 1.0 `SendMessage` result or stream event (`{"task": ...}`, `{"statusUpdate": ...}`, ...).

    Raises:
        ValueError: the data is not one of the four wrappers, or its content is invalid.
    """
    if isinstance(data, dict) and len(cast(dict[str, Any], data)) == 1:
        ((key, inner),) = cast(dict[str, Any], data).items()
        kinds = {wire: kind for kind, wire in _STREAM_KEYS.items()}
        if key in kinds and isinstance(inner, dict):
            converted = cast(dict[str, Any], _convert(inner, to_v1=False))
            converted["kind"] = kinds[key]
            if key == "statusUpdate":
                state = converted.get("status", {}).get("state")
                converted["final"] = state in TERMINAL_TASK_STATES or state == "input-required"
            return STREAM_EVENT.validate_python(converted)
    raise ValueError("expected an object with one of task, message, statusUpdate or artifactUpdate")


# --- The KAOS dialect --------------------------------------------------------------------------
#
# KAOS's UI and CLI call without an `A2A-Version` header and read a superset of the 0.3 task:
# `sessionId`, parts tagged `type` as well as `kind`, `events`, `autonomous` and `output`. They
# render `status.message` as text, so this dialect leaves the 0.3 message object out (its text is
# the task's `output`).

KAOS_PROTOCOLS = ("jsonrpc",)
"""The card's `supportedProtocols` (legacy agent-card path) that KAOS clients read."""


def _typed_parts(container: dict[str, Any]) -> None:
    for part in container.get("parts", []):
        part["type"] = part["kind"]


def _task_to_kaos(task: Task) -> dict[str, Any]:
    data = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["sessionId"] = task.context_id
    data["status"].pop("message", None)
    data.setdefault("history", [])
    data.setdefault("artifacts", [])
    data.setdefault("metadata", {})
    for container in [*data["history"], *data["artifacts"]]:
        _typed_parts(container)
    data["events"] = [event.model_dump(mode="json") for event in task.events]
    data["autonomous"] = task.autonomous
    data["output"] = task.text()
    return data


def to_kaos(model: Task | ListTasksResult) -> dict[str, Any]:
    """A task (or a `ListTasks` page, with `count`) in the KAOS dialect."""
    if isinstance(model, Task):
        return _task_to_kaos(model)
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"tasks"})
    data["tasks"] = [_task_to_kaos(task) for task in model.tasks]
    data["count"] = len(model.tasks)
    return data
