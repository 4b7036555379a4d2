"""OpenAI Responses API wire models (the subset PAIS reads and writes)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag

from ._openai_models import JsonSchemaFormat

__all__ = [
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "InputContent",
    "InputItem",
    "McpApprovalRequestItem",
    "McpApprovalResponseItem",
    "MessageItem",
    "NamedFunctionChoice",
    "OutputFunctionCall",
    "OutputItem",
    "OutputMcpApprovalRequest",
    "OutputMessage",
    "OutputText",
    "ResponseObject",
    "ResponseUsage",
    "ResponsesRequest",
    "TextConfig",
    "TextFormat",
    "new_item_id",
]


def new_item_id(prefix: str) -> str:
    """An OpenAI-style object id (`resp_...`, `msg_...`, `fc_...`)."""
    return f"{prefix}_{uuid.uuid4().hex}"


class InputContent(BaseModel):
    """A content part of an input message; only text parts carry text."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class MessageItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputContent]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.text is not None)


class FunctionCallItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    status: str | None = None


class FunctionCallOutputItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str


class McpApprovalRequestItem(BaseModel):
    """A call awaiting approval, as an earlier response listed it (a client keeping the conversation itself)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    id: str
    name: str
    arguments: str
    server_label: str | None = None


class McpApprovalResponseItem(BaseModel):
    """A person's decision on a call awaiting approval (`mcp_approval_request`)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    id: str | None = None
    approval_request_id: str
    approve: StrictBool
    reason: str | None = None


def _item_kind(value: Any) -> str:
    kind: object = cast(dict[str, Any], value).get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) else "message"  # an item without `type` is a message


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[McpApprovalRequestItem, Tag("mcp_approval_request")]
    | Annotated[McpApprovalResponseItem, Tag("mcp_approval_response")],
    Discriminator(_item_kind),
]


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamedFunctionChoice(BaseModel):
    type: Literal["function"] = "function"
    name: str


class TextFormat(JsonSchemaFormat):
    """`text.format`: `text`, `json_object`, or `json_schema` with the schema's fields inline."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str = Field(default="output", min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: TextFormat | None = None


class ResponsesRequest(BaseModel):
    """`POST /v1/responses` body; unknown parameters are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    input: str | list[InputItem] = Field(min_length=1)
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, min_length=1, max_length=300)
    store: bool = True
    stream: bool = False
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedFunctionChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list[Any])


class OutputMessage(BaseModel):
    type: Literal["message"] = "message"
    id: str = Field(default_factory=lambda: new_item_id("msg"))
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    role: Literal["assistant"] = "assistant"
    content: list[OutputText] = Field(default_factory=list[OutputText])


class OutputFunctionCall(BaseModel):
    type: Literal["function_call"] = "function_call"
    id: str = Field(default_factory=lambda: new_item_id("fc"))
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed"] = "completed"


class OutputMcpApprovalRequest(BaseModel):
    """A call that waits for a person's approval (answered with an `mcp_approval_response` input item)."""

    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    id: str
    """The call's id: the `approval_request_id` of its decision."""
    name: str
    arguments: str
    server_label: str
    """Where the tool lives: the agent's name (PAIS decides on every tool of the agent, not only MCP ones)."""


OutputItem = OutputMessage | OutputFunctionCall | OutputMcpApprovalRequest


class ResponseUsage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: dict[str, int] = Field(default_factory=lambda: {"cached_tokens": 0})
    output_tokens_details: dict[str, int] = Field(default_factory=lambda: {"reasoning_tokens": 0})


class ResponseObject(BaseModel):
    """A response as `POST /v1/responses` returns it and `GET /v1/responses/{id}` gives it back."""

    id: str = Field(default_factory=lambda: new_item_id("resp"))
    object: Literal["response"] = "response"
    created_at: int = Field(default_factory=lambda: int(time.time()))
    status: Literal["in_progress", "completed", "incomplete", "failed"] = "completed"
    model: str
    output: list[OutputItem] = Field(default_factory=list[OutputItem])
    usage: ResponseUsage | None = None
    previous_response_id: str | None = None
    instructions: str | None = None
    incomplete_details: dict[str, str] | None = None
    error: dict[str, str] | None = None
    tools: list[FunctionTool] = Field(default_factory=list[FunctionTool])
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    store: bool = True
    metadata: dict[str, str] = Field(default_factory=dict[str, str])
    session_id: str
    """PAIS extension: the memory session the response belongs to."""
