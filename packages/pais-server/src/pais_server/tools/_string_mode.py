"""String-mode tool calling: a model wrapper for model APIs whose models cannot call tools natively.

`StringModeModel` describes the request's tools in the instructions, calls the wrapped model without
native tools, and turns the JSON tool calls it writes back into native `ToolCallPart`s, so Pydantic
AI's own tool loop runs: argument validation, retries, tool execution. Earlier tool calls, tool
results and retry prompts are rendered as plain conversation text for the wrapped model, which has
never seen a native tool message.

Constrained output: where the API accepts a JSON schema for the reply (OpenAI `response_format`
`json_schema`; llama-cpp-python's `json_object` with a `schema`), the reply is forced to be
`{"tool_calls": [...]}` with each tool's own argument schema, or `{"answer": "..."}`. `"auto"` tries
`json_schema`, then `json_object`, then none, remembering the first the API accepts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, cast

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import (
    InstructionPart,
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from ._text import (
    ParsedCall,
    ParsedReply,
    ReplyStream,
    ToolResult,
    describe_tools,
    parse_reply,
    render_tool_calls,
    render_tool_results,
    reply_schema,
)

__all__ = ["ConstrainedOutput", "StringModeModel"]

logger = logging.getLogger("pais_server.tool_mode")

ConstrainedOutput = Literal["auto", "json_schema", "json_object", "off"]
_Format = Literal["json_schema", "json_object", "off"]
_AUTO_ORDER: tuple[_Format, ...] = ("json_schema", "json_object", "off")


@dataclass(frozen=True)
class _Plan:
    """One request as the wrapped model sees it."""

    messages: list[ModelMessage]
    settings: ModelSettings | None
    params: ModelRequestParameters
    tools: list[ToolDefinition]
    json_answers: bool
    schema: dict[str, Any] | None
    """JSON schema the reply must follow under constrained output; None without."""
    answered: frozenset[tuple[str, str]]


@dataclass(init=False)
class StringModeModel(WrapperModel):
    """Tool calling through the text of a model without native function calling.

    Args:
        wrapped: the model to call without native tools.
        constrained: constrained output: `"auto"` (try the forms below, remember the first the API
            accepts), `"json_schema"` (OpenAI's form; Ollama, llama.cpp's server, vLLM),
            `"json_object"` (`{"type": "json_object", "schema": ...}`, llama-cpp-python), or `"off"`.
        parse_retries: how often an unreadable tool call is sent back to the model, inside one
            request, before its reply is taken as plain text.
    """

    constrained: ConstrainedOutput
    parse_retries: int

    def __init__(self, wrapped: Model, *, constrained: ConstrainedOutput = "auto", parse_retries: int = 1) -> None:
        super().__init__(wrapped)
        self.constrained = constrained
        self.parse_retries = parse_retries
        self._formats: tuple[_Format, ...] = _AUTO_ORDER if constrained == "auto" else (constrained,)

    @property
    def response_format(self) -> _Format:
        """The constrained-output form in use (`"off"` when none)."""
        return self._formats[0]

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        plan = self._plan(messages, model_settings, model_request_parameters)
        response = await self._send(plan)
        parsed = parse_reply(_text_of(response), plan.tools)
        response, parsed = await self._settle(plan, response, parsed)
        return _with_reply(response, parsed, parsed.text)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        plan = self._plan(messages, model_settings, model_request_parameters)
        async with AsyncExitStack() as stack:
            inner = await self._open_stream(stack, plan, run_context)
            yield _StringModeStream(
                model_request_parameters=model_request_parameters, _inner=inner, _model=self, _plan=plan
            )

    def _plan(
        self, messages: list[ModelMessage], settings: ModelSettings | None, params: ModelRequestParameters
    ) -> _Plan:
        tools = [
            tool
            for tool in [*params.function_tools, *params.output_tools]
            if params.visibility_of(tool.name) != "withheld"
        ]
        constrain = bool(tools) and params.output_mode in ("text", "tool", "auto") and self.response_format != "off"
        instruction_parts = _instruction_parts(messages, params)
        if tools:
            instruction_parts.append(
                InstructionPart(content=describe_tools(tools, json_answers=constrain), dynamic=True)
            )
        inner_params = replace(
            params,
            function_tools=[],
            output_tools=[],
            tool_visibility=None,
            revealed_tool_names=set[str](),
            introduced_tool_names=set[str](),
            output_mode="text" if params.output_mode in ("tool", "auto") else params.output_mode,
            allow_text_output=True,
            instruction_parts=instruction_parts or None,
        )
        return _Plan(
            messages=_textual_history(messages),
            settings=settings,
            params=inner_params,
            tools=tools,
            json_answers=constrain,
            schema=reply_schema(tools) if constrain else None,
            answered=_answered_calls(messages),
        )

    def _settings_for(self, plan: _Plan, form: _Format) -> ModelSettings | None:
        if plan.schema is None or form == "off":
            return plan.settings
        if form == "json_schema":
            response_format = {"type": "json_schema", "json_schema": {"name": "reply", "schema": plan.schema}}
        else:
            response_format = {"type": "json_object", "schema": plan.schema}
        extra_body: dict[str, Any] = {
            **_extra_body(self.wrapped.settings),
            **_extra_body(plan.settings),
            "response_format": response_format,
        }
        settings: ModelSettings = {**(plan.settings or {}), "extra_body": extra_body}
        return settings

    def _rejected(self, form: _Format, error: ModelHTTPError) -> bool:
        """Drop `form` when the API refused it, so the next form is tried; False when the error stands."""
        refused = error.status_code in (400, 422, 500) and "response_format" in str(error.body)
        if form == "off" or len(self._formats) == 1 or not refused or self._formats[0] != form:
            return False
        self._formats = self._formats[1:]
        logger.warning(
            "model API refused response_format %s (HTTP %s); string mode now uses %s",
            form,
            error.status_code,
            self._formats[0],
        )
        return True

    async def _send(self, plan: _Plan) -> ModelResponse:
        while True:
            form = self.response_format
            try:
                return await self.wrapped.request(plan.messages, self._settings_for(plan, form), plan.params)
            except ModelHTTPError as error:
                if plan.schema is None or not self._rejected(form, error):
                    raise

    async def _open_stream(
        self, stack: AsyncExitStack, plan: _Plan, run_context: RunContext[Any] | None
    ) -> StreamedResponse:
        while True:
            form = self.response_format
            stream = self.wrapped.request_stream(
                plan.messages, self._settings_for(plan, form), plan.params, run_context
            )
            try:
                return await stack.enter_async_context(stream)
            except ModelHTTPError as error:
                if plan.schema is None or not self._rejected(form, error):
                    raise

    async def _settle(
        self, plan: _Plan, response: ModelResponse, parsed: ParsedReply
    ) -> tuple[ModelResponse, ParsedReply]:
        """Ask again, inside this request, when a reply cannot be used as it is.

        An unreadable tool call gets the parser's message. A reply that only repeats calls already
        answered in this turn (small models loop on them) is dropped: under constrained output the
        request is sent again with an answer-only schema, otherwise the model is told to answer.
        After `parse_retries` attempts the last reply stands.
        """
        first, usage = response, response.usage
        messages = plan.messages
        for _ in range(self.parse_retries):
            follow = plan
            if parsed.error is not None:
                nudge: str | None = parsed.error
            elif parsed.calls and all(_call_key(c.name, c.arguments) in plan.answered for c in parsed.calls):
                # Under constrained output, asking the same request again with answers only is enough.
                nudge = None if plan.schema is not None else _REPEATED_CALL
                if plan.schema is not None:
                    follow = replace(plan, schema=reply_schema([]))
            else:
                break
            logger.info("string mode: asking the model again (%s)", nudge or "answer only")
            if nudge is not None:
                messages = [
                    *messages,
                    ModelResponse(parts=[TextPart(_text_of(response) or "(empty reply)")]),
                    ModelRequest(parts=[UserPromptPart(nudge)]),
                ]
            response = await self._send(replace(follow, messages=messages))
            usage = usage + response.usage
            parsed = parse_reply(_text_of(response), plan.tools)
        if parsed.error is not None:
            parsed = ParsedReply(text=parsed.text)
        return (response if response is first else replace(response, usage=usage)), parsed


_REPEATED_CALL = (
    "You already called that tool with these arguments and its result is above. "
    "Do not call it again: answer the user's question now, using the result."
)


def _call_key(name: str, arguments: dict[str, Any] | str) -> tuple[str, str]:
    if isinstance(arguments, str):
        return name, arguments
    return name, json.dumps(arguments, sort_keys=True, default=str)


def _answered_calls(messages: Sequence[ModelMessage]) -> frozenset[tuple[str, str]]:
    """The calls made since the user last spoke, as `_call_key`s."""
    keys: set[tuple[str, str]] = set()
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            if any(isinstance(part, UserPromptPart) for part in message.parts):
                break
            continue
        keys.update(_call_key(p.tool_name, _call_arguments(p)) for p in message.parts if isinstance(p, ToolCallPart))
    return frozenset(keys)


def _extra_body(settings: ModelSettings | None) -> dict[str, Any]:
    body = (settings or {}).get("extra_body")
    return dict(cast(dict[str, Any], body)) if isinstance(body, dict) else {}


def _instruction_parts(messages: Sequence[ModelMessage], params: ModelRequestParameters) -> list[InstructionPart]:
    """The request's instruction parts; from the latest request's rendered instructions when not given."""
    if params.instruction_parts is not None:
        return list(params.instruction_parts)
    latest = next((m.instructions for m in reversed(messages) if isinstance(m, ModelRequest) and m.instructions), None)
    return [InstructionPart(content=latest)] if latest else []


def _text_of(response: ModelResponse) -> str:
    return "".join(part.content for part in response.parts if isinstance(part, TextPart))


def _with_reply(response: ModelResponse, parsed: ParsedReply, text: str) -> ModelResponse:
    """`response` with its text replaced by `text` and the parsed tool calls as native parts."""
    parts: list[ModelResponsePart] = [part for part in response.parts if not isinstance(part, TextPart)]
    if text or not parsed.calls:
        parts.append(TextPart(text))
    parts.extend(ToolCallPart(call.name, call.arguments) for call in parsed.calls)
    finish = "tool_call" if parsed.calls else response.finish_reason
    return replace(response, parts=parts, finish_reason=finish)


# --- history as text --------------------------------------------------------------------------


def _textual_history(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """`messages` without native tool parts: calls become the JSON the model writes, results a user turn."""
    converted: list[ModelMessage] = []
    question: str | None = None
    for message in messages:
        if isinstance(message, ModelResponse):
            converted.append(_textual_response(message))
            continue
        question = next(
            (
                p.content
                for p in reversed(message.parts)
                if isinstance(p, UserPromptPart) and isinstance(p.content, str)
            ),
            question,
        )
        converted.append(_textual_request(message, question))
    return converted


def _textual_response(message: ModelResponse) -> ModelResponse:
    calls = [part for part in message.parts if isinstance(part, ToolCallPart)]
    if not calls:
        return message
    rendered = TextPart(render_tool_calls([ParsedCall(c.tool_name, _call_arguments(c)) for c in calls]))
    parts: list[ModelResponsePart] = []
    for part in message.parts:
        if part is calls[0]:
            parts.append(rendered)
        elif not isinstance(part, ToolCallPart):
            parts.append(part)
    return replace(message, parts=parts)


def _call_arguments(call: ToolCallPart) -> dict[str, Any] | str:
    if isinstance(call.args, dict):
        return call.args
    return call.args or {}


def _textual_request(message: ModelRequest, question: str | None) -> ModelRequest:
    results = [_tool_result(part) for part in message.parts]
    if not any(results):
        return message
    rendered = render_tool_results([r for r in results if r is not None], question=question)
    first = next(i for i, result in enumerate(results) if result is not None)
    parts: list[ModelRequestPart] = [
        UserPromptPart(rendered) if index == first else part
        for index, (part, result) in enumerate(zip(message.parts, results, strict=True))
        if result is None or index == first
    ]
    return replace(message, parts=parts)


def _tool_result(part: ModelRequestPart) -> ToolResult | None:
    if isinstance(part, ToolReturnPart):
        return ToolResult(part.tool_name, part.model_response_str(wrap_if_error=False), part.outcome)
    return None


# --- streaming --------------------------------------------------------------------------------


@dataclass
class _StringModeStream(StreamedResponse):
    """The wrapped model's stream with plain text passed through and tool-call JSON turned into calls."""

    _inner: StreamedResponse
    _model: StringModeModel
    _plan: _Plan
    _timestamp: datetime = field(init=False)

    def __post_init__(self) -> None:
        self._timestamp = self._inner.timestamp

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        reply = ReplyStream(self._plan.tools, json_answers=self._plan.json_answers)
        async for event in self._inner:
            delta = _text_delta(event)
            if delta and (piece := reply.feed(delta)):
                for out in self._parts_manager.handle_text_delta(vendor_part_id="text", content=piece):
                    yield out
        inner = self._inner.get()
        self._usage = inner.usage
        self.provider_response_id = inner.provider_response_id
        self.provider_details = inner.provider_details
        self.finish_reason = inner.finish_reason
        parsed, rest = reply.finish()
        settled, parsed = await self._model._settle(self._plan, inner, parsed)  # pyright: ignore[reportPrivateUsage]
        if settled is not inner:
            self._usage = settled.usage
            rest = "" if parsed.calls else parsed.text
        if rest:
            for out in self._parts_manager.handle_text_delta(vendor_part_id="text", content=rest):
                yield out
        for index, call in enumerate(parsed.calls):
            yield self._parts_manager.handle_tool_call_part(
                vendor_part_id=("call", index), tool_name=call.name, args=call.arguments
            )
        if parsed.calls:
            self.finish_reason = "tool_call"

    async def close_stream(self) -> None:
        await self._inner.close_stream()

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def provider_name(self) -> str | None:
        return self._inner.provider_name

    @property
    def provider_url(self) -> str | None:
        return self._inner.provider_url

    @property
    def timestamp(self) -> datetime:
        return self._timestamp


def _text_delta(event: ModelResponseStreamEvent) -> str | None:
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        return event.part.content
    if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        return event.delta.content_delta
    return None
