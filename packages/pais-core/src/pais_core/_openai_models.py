"""OpenAI Chat Completions wire models (the subset PAIS reads and writes)."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatMessage",
    "ChatTool",
    "Choice",
    "ChunkChoice",
    "ContentPart",
    "Delta",
    "DeltaToolCall",
    "ErrorBody",
    "ErrorDetail",
    "FunctionDefinition",
    "JsonSchemaFormat",
    "ModelCard",
    "ModelList",
    "NamedFunction",
    "NamedToolChoice",
    "Progress",
    "ResponseFormat",
    "ResponseMessage",
    "StreamOptions",
    "ToolCall",
    "ToolCallFunction",
    "Usage",
    "new_completion_id",
]


def new_completion_id() -> str:
    """Return an OpenAI-style completion id."""
    return f"chatcmpl-{uuid.uuid4().hex}"


_REQUEST = ConfigDict(extra="allow", strict=True)
"""Request models accept unknown fields, but no value of the wrong type (`"yes"` is not a bool, `"1"` not a number)."""


class ContentPart(BaseModel):
    """One part of a multi-part message content; only text parts carry text."""

    model_config = _REQUEST

    type: str
    text: str | None = None


class ToolCallFunction(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str
    arguments: str


class ToolCall(BaseModel):
    model_config = ConfigDict(strict=True)

    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(BaseModel):
    """A message of the request's `messages` list."""

    model_config = _REQUEST

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text, with multi-part text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class JsonSchemaFormat(BaseModel):
    """`response_format.json_schema`: the schema the answer must follow."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """`response_format`: plain text, any JSON object, or JSON valid against a schema."""

    model_config = _REQUEST

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class FunctionDefinition(BaseModel):
    model_config = _REQUEST

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChatTool(BaseModel):
    """A client-side tool of the request's `tools`: the agent may call it; the client runs it."""

    model_config = _REQUEST

    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(BaseModel):
    model_config = _REQUEST

    name: str


class NamedToolChoice(BaseModel):
    model_config = _REQUEST

    type: Literal["function"] = "function"
    function: NamedFunction


class StreamOptions(BaseModel):
    model_config = _REQUEST

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions` body; unknown OpenAI parameters are accepted and ignored.

    Types are strict (`"stream": "yes"` or `"seed": false` is a 400, not a guess) and sampling
    parameters finite and within OpenAI's ranges.
    """

    model_config = _REQUEST

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, gt=0)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    user: str | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, int] | None = None
    # accepted only at the values PAIS can honour (refused with a 400 naming them otherwise)
    n: int | None = Field(default=None, gt=0)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0)
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    tools: list[ChatTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"] = "stop"


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=new_completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    """None when the model API reported no token counts."""
    session_id: str
    pending_approvals: list[str] | None = Field(default=None, exclude_if=lambda ids: ids is None)
    """PAIS extension: the ids of `tool_calls` awaiting a person's approval (absent when none)."""


class Progress(BaseModel):
    """Run progress carried by a stream chunk beside (never inside) `delta.content`."""

    model_config = ConfigDict(extra="allow")

    type: Literal["step", "tool_call", "tool_result", "delegation", "delegation_result"]
    step: int
    max_steps: int
    tool: str | None = None
    target: str | None = None
    success: bool | None = None


class DeltaToolCall(ToolCall):
    """A whole tool call in one stream chunk, at its `index` among the response's calls."""

    index: int


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"] | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` event of a streamed completion; `progress` is a PAIS extension field."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    session_id: str | None = None
    progress: Progress | None = None
    pending_approvals: list[str] | None = None
    """PAIS extension, on the finishing chunk: the ids of the tool calls awaiting approval."""


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "pais"
    description: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error envelope: `{"error": {"message", "type", "code"}}`."""

    error: ErrorDetail

    @classmethod
    def of(cls, message: str, error_type: str, code: str | None = None, **extra: Any) -> ErrorBody:
        """Build an error body from its parts."""
        return cls(error=ErrorDetail(message=message, type=error_type, code=code, **extra))
