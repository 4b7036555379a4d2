"""`POST /v1/responses` and `GET /v1/responses/{id}`: the OpenAI Responses API on the chat runner.

A thin translation: the request's `input` items become the same conversation a chat request gives
(`split_conversation`), `instructions` join the system text, `previous_response_id` names the memory
session of a stored response, function tools are client tools (`_deferred`), `text.format` is
structured output; the run's events become the Responses stream events. Limits, memory, errors and
the runner are chat's. Calls awaiting a person's approval are `mcp_approval_request` output items, and
`mcp_approval_response` input items decide them (like chat's `tool` messages `{"approved", "reason"}`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from functools import partial
from typing import Any, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel
from pydantic_ai.settings import ModelSettings
from starlette.responses import Response, StreamingResponse

from pais_core import (
    BadRequestError,
    ChatMessage,
    ChatTool,
    FunctionDefinition,
    FunctionTool,
    InputItem,
    JsonSchemaFormat,
    McpApprovalRequestItem,
    McpApprovalResponseItem,
    MessageItem,
    NamedFunction,
    NamedFunctionChoice,
    NamedToolChoice,
    NotFoundError,
    OutputFunctionCall,
    OutputItem,
    OutputMcpApprovalRequest,
    OutputMessage,
    OutputText,
    PaisError,
    ResponseFormat,
    ResponseObject,
    ResponsesRequest,
    ResponseUsage,
    TextConfig,
    ToolCall,
    ToolCallFunction,
)
from pais_delegation import depth_from_headers
from pais_memory import Memory

from ..._deps import RuntimeDep, runtime_of
from ...http._errors import error_responses
from ...runtime._runner import AgentRunner, RunEvent, RunInput, RunResult, TextDelta, ToolProgress
from ...runtime._structured_output import structured_output
from .._disconnect import cancels_on_disconnect
from .._sse import relay
from ..chat._conversation import split_conversation
from ..chat._params import client_tools

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/v1/responses",
    response_model=ResponseObject,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The response, or its events when streaming"},
        **error_responses(400, 401, 404, 409, 413, 500, 502, 503, 504),
    },
)
async def create_response(body: ResponsesRequest, request: Request) -> Response:
    """Run the agent on `input` and answer like OpenAI's Responses API."""
    runtime = runtime_of(request)
    messages = _chat_messages(body.input)
    if len(messages) > runtime.settings.max_request_messages:
        raise BadRequestError(
            f"too many input items: {len(messages)} > MAX_REQUEST_MESSAGES={runtime.settings.max_request_messages}"
        )
    session_id = await _session_of(runtime.memory, body.previous_response_id, request.headers.get("x-session-id"))
    conversation = split_conversation(messages)
    tools, tool_choice = client_tools(_chat_tools(body.tools), _chat_tool_choice(body.tool_choice), runtime.skills)
    settings: dict[str, Any] = {
        "max_tokens": body.max_output_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "parallel_tool_calls": body.parallel_tool_calls,
        "openai_user": body.user,
    }
    inp = RunInput(
        session_id=session_id,
        prompt=conversation.prompt,
        request_history=conversation.history,
        system="\n\n".join(text for text in (body.instructions, conversation.system) if text) or None,
        model_settings=cast(ModelSettings, present) if (present := _present(settings)) else None,
        depth=depth_from_headers(request.headers),
        output=structured_output(_response_format(body.text)),
        client_tools=tools,
        tool_choice=tool_choice,
        tool_results=conversation.tool_results,
    )
    shell = ResponseObject(
        model=body.model or runtime.settings.agent_name,
        status="in_progress",
        previous_response_id=body.previous_response_id,
        instructions=body.instructions,
        tools=body.tools or [],
        tool_choice=body.tool_choice.model_dump()
        if isinstance(body.tool_choice, BaseModel)
        else body.tool_choice or "auto",
        parallel_tool_calls=body.parallel_tool_calls is not False,
        text={"format": body.text.format.model_dump(by_alias=True, exclude_none=True)}
        if body.text is not None and body.text.format is not None
        else {"format": {"type": "text"}},
        store=body.store,
        metadata=body.metadata or {},
        session_id=session_id,
    )
    headers = {"X-Session-ID": session_id}
    if body.stream:
        cancel = cancels_on_disconnect(request.headers)
        events = _Events(shell, runtime.settings.agent_name)
        return await _stream(runtime.runner, runtime.memory if body.store else None, inp, events, cancel=cancel)
    result = await runtime.runner.run(inp)
    response = _completed(shell, result, _output_items(result, runtime.settings.agent_name))
    if body.store:
        await runtime.memory.put_response(response.id, response.model_dump_json().encode())
    return Response(response.model_dump_json(), media_type="application/json", headers=headers)


@router.get("/v1/responses/{response_id}", responses=error_responses(401, 404, 500))
async def get_response(response_id: str, runtime: RuntimeDep) -> ResponseObject:
    """A response stored by `POST /v1/responses` (with `store`, the default)."""
    record = await runtime.memory.get_response(response_id)
    if record is None:
        raise NotFoundError(f"no stored response has id {response_id!r}")
    response = ResponseObject.model_validate_json(record)
    try:
        await runtime.runner.access.check_read(response.session_id)
    except NotFoundError:
        raise NotFoundError(f"no stored response has id {response_id!r}") from None  # another principal's
    return response


async def _session_of(memory: Memory, previous_response_id: str | None, header: str | None) -> str:
    if previous_response_id is None:
        return header or f"session-{uuid.uuid4().hex}"
    record = await memory.get_response(previous_response_id)
    if record is None:
        raise NotFoundError(f"previous_response_id {previous_response_id!r} names no stored response")
    return ResponseObject.model_validate_json(record).session_id


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _chat_messages(items: str | list[InputItem]) -> list[ChatMessage]:
    """`input` as Chat Completions messages: function calls join one assistant message per step."""
    if isinstance(items, str):
        return [ChatMessage(role="user", content=items)]
    messages: list[ChatMessage] = []
    for item in items:
        if isinstance(item, MessageItem):
            messages.append(ChatMessage(role=item.role, content=item.text()))
        elif isinstance(item, McpApprovalResponseItem):
            decision = {"approved": item.approve, **({"reason": item.reason} if item.reason else {})}
            messages.append(
                ChatMessage(role="tool", tool_call_id=item.approval_request_id, content=json.dumps(decision))
            )
        elif item.type == "function_call_output":
            messages.append(ChatMessage(role="tool", tool_call_id=item.call_id, content=item.output))
        else:
            call_id = item.id if isinstance(item, McpApprovalRequestItem) else item.call_id
            call = ToolCall(id=call_id, function=ToolCallFunction(name=item.name, arguments=item.arguments))
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and last.tool_calls is not None:
                last.tool_calls.append(call)
            else:
                messages.append(ChatMessage(role="assistant", tool_calls=[call]))
    if not messages:
        raise BadRequestError("input has no items", param="input")
    return messages


def _chat_tools(tools: list[FunctionTool] | None) -> list[ChatTool] | None:
    if not tools:
        return None
    return [
        ChatTool(
            function=FunctionDefinition(
                name=tool.name, description=tool.description, parameters=tool.parameters, strict=tool.strict
            )
        )
        for tool in tools
    ]


def _chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, NamedFunctionChoice):
        return NamedToolChoice(function=NamedFunction(name=choice.name))
    return choice


def _response_format(text: TextConfig | None) -> ResponseFormat | None:
    if text is None or text.format is None or text.format.type == "text":
        return None
    fmt = text.format
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    schema = JsonSchemaFormat(name=fmt.name, description=fmt.description, schema=fmt.schema_, strict=fmt.strict)
    return ResponseFormat(type="json_schema", json_schema=schema)


def _output_items(result: RunResult, server_label: str, message_id: str | None = None) -> list[OutputItem]:
    """The answer's text, then the calls it paused on: client tools' function calls and calls awaiting approval."""
    items: list[OutputItem] = []
    if result.output or not result.tool_calls:
        message = OutputMessage(content=[OutputText(text=result.output)])
        if message_id is not None:
            message.id = message_id
        items.append(message)
    for call in result.tool_calls:
        name, arguments = call.function.name, call.function.arguments
        if call.id in result.pending_approvals:
            items.append(
                OutputMcpApprovalRequest(id=call.id, name=name, arguments=arguments, server_label=server_label)
            )
        else:
            items.append(OutputFunctionCall(call_id=call.id, name=name, arguments=arguments))
    return items


def _completed(shell: ResponseObject, result: RunResult, output: list[OutputItem]) -> ResponseObject:
    usage = result.usage
    incomplete = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(result.finish_reason)
    return shell.model_copy(
        update={
            "status": "incomplete" if incomplete else "completed",
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "output": output,
            "usage": None
            if usage is None
            else ResponseUsage(
                input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens, total_tokens=usage.total_tokens
            ),
        }
    )


class _Events:
    """Renders run events as the Responses API's typed server-sent events."""

    def __init__(self, shell: ResponseObject, server_label: str) -> None:
        self.shell = shell
        self.server_label = server_label
        self.sequence = 0
        self.message_id: str | None = None

    def event(self, kind: str, **data: Any) -> str:
        payload = {"type": kind, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"

    def start(self) -> str:
        shell = self.shell.model_dump(mode="json")
        return self.event("response.created", response=shell) + self.event("response.in_progress", response=shell)

    def text_delta(self, delta: str) -> str:
        lines = self._added(OutputMessage().id) if self.message_id is None else ""
        position = {"item_id": self.message_id, "output_index": 0, "content_index": 0}
        return lines + self.event("response.output_text.delta", **position, delta=delta, logprobs=[])

    def finish(self, result: RunResult) -> tuple[str, ResponseObject]:
        output = _output_items(result, self.server_label, self.message_id)
        lines = ""
        for index, item in enumerate(output):
            if isinstance(item, OutputMessage):
                if self.message_id is None:  # an empty answer: no text was streamed
                    lines += self._added(item.id)
                position = {"item_id": item.id, "output_index": index, "content_index": 0}
                part = item.content[0]
                lines += self.event("response.output_text.done", **position, text=part.text, logprobs=[])
                lines += self.event("response.content_part.done", **position, part=part.model_dump())
            elif isinstance(item, OutputFunctionCall):
                added = item.model_copy(update={"status": "in_progress", "arguments": ""})
                lines += self.event("response.output_item.added", output_index=index, item=added.model_dump())
                position = {"item_id": item.id, "output_index": index}
                lines += self.event("response.function_call_arguments.delta", **position, delta=item.arguments)
                lines += self.event("response.function_call_arguments.done", **position, arguments=item.arguments)
            else:  # a call awaiting approval: announced whole, no intermediate events
                lines += self.event("response.output_item.added", output_index=index, item=item.model_dump())
            lines += self.event("response.output_item.done", output_index=index, item=item.model_dump())
        response = _completed(self.shell, result, output)
        kind = "response.completed" if response.status == "completed" else "response.incomplete"
        return lines + self.event(kind, response=response.model_dump(mode="json")), response

    def _added(self, message_id: str) -> str:
        """Announce the answer's message item and its text part, still empty."""
        self.message_id = message_id
        message = OutputMessage(id=message_id, status="in_progress")
        part = OutputText(text="").model_dump()
        return self.event("response.output_item.added", output_index=0, item=message.model_dump()) + self.event(
            "response.content_part.added", item_id=message_id, output_index=0, content_index=0, part=part
        )


async def _stream(
    runner: AgentRunner, memory: Memory | None, inp: RunInput, events: _Events, *, cancel: bool
) -> Response:
    """Start the run; an error before its first event is a normal error response, later ones an `error` event.

    A client that disconnects does not stop the run (it finishes and records its turn) unless `cancel`.
    """

    async def produce(send: Callable[[RunEvent], None]) -> None:
        async for event in runner.stream(inp):
            send(event)

    detach = None if cancel else partial(runner.in_background, name=f"response-stream-{events.shell.id}")
    run = await relay(produce, detach=detach)

    async def body() -> AsyncIterator[str]:
        async with aclosing(run):
            yield events.start()
            try:
                async for item in run:
                    if isinstance(item, TextDelta):
                        yield events.text_delta(item.text)
                    elif isinstance(item, ToolProgress):  # the agent's own tools and delegations: never output text
                        yield events.event("pais.progress", progress=item.progress.model_dump(exclude_none=True))
                    else:
                        lines, response = events.finish(item)
                        if memory is not None:
                            await memory.put_response(response.id, response.model_dump_json().encode())
                        yield lines
            except PaisError as exc:
                yield events.event("error", code=exc.code, message=exc.message, param=exc.param)

    headers = {"X-Session-ID": inp.session_id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
