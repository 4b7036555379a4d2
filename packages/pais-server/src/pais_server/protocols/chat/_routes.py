"""`POST /v1/chat/completions`: OpenAI Chat Completions, streaming or not."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.openapi.models import Example
from starlette.responses import Response

from pais_core import (
    BadRequestError,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ResponseMessage,
)
from pais_delegation import depth_from_headers

from ..._deps import runtime_of
from ...http._errors import error_responses
from ...http._json_body import StrictJsonRoute
from ...runtime._runner import RunInput
from ...runtime._structured_output import structured_output
from .._disconnect import cancels_on_disconnect
from .._sse import stream_completion
from ._conversation import split_conversation
from ._params import client_tools, model_settings, refuse_unsupported

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)

_SESSION_ID = re.compile(r"^[\x21-\x7e]{1,256}$")

_EXAMPLES: dict[str, Example] = {
    "chat": {"summary": "One user message", "value": {"messages": [{"role": "user", "content": "Hello!"}]}},
    "stream": {
        "summary": "Streamed, in a session",
        "value": {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "session_id": "session-1",
        },
    },
}

_SESSION_HEADER = {
    "name": "X-Session-ID",
    "in": "header",
    "required": False,
    "description": "The memory session of this turn (the body's `session_id` is the alternative); a new one if absent",
    "schema": {"type": "string"},
}


def _session_id(header: str | None, body: str | None) -> str:
    session_id = header or body
    if session_id is None:
        return f"session-{uuid.uuid4().hex}"
    if not _SESSION_ID.match(session_id):
        raise BadRequestError("session id must be 1-256 printable ASCII characters without spaces")
    return session_id


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletionResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The completion, or its chunks when streaming"},
        **error_responses(400, 401, 409, 413, 500, 502, 503, 504),
    },
    # read from `request.headers` in the handler (no per-request dependency solving); documented here
    openapi_extra={"parameters": [_SESSION_HEADER]},
)
async def chat_completions(
    body: Annotated[ChatCompletionRequest, Body(openapi_examples=_EXAMPLES)],
    request: Request,
) -> Response:
    """Run the agent on the conversation and answer like OpenAI's Chat Completions API."""
    runtime = runtime_of(request)
    if len(body.messages) > runtime.settings.max_request_messages:
        raise BadRequestError(
            f"too many messages: {len(body.messages)} > MAX_REQUEST_MESSAGES={runtime.settings.max_request_messages}"
        )
    refuse_unsupported(body)
    session_id = _session_id(request.headers.get("x-session-id"), body.session_id)
    conversation = split_conversation(body.messages)
    tools, tool_choice = client_tools(body.tools, body.tool_choice, runtime.skills)
    inp = RunInput(
        session_id=session_id,
        prompt=conversation.prompt,
        request_history=conversation.history,
        system=conversation.system,
        model_settings=model_settings(body),
        depth=depth_from_headers(request.headers),
        output=structured_output(body.response_format),
        client_tools=tools,
        tool_choice=tool_choice,
        tool_results=conversation.tool_results,
    )
    model = body.model or runtime.settings.agent_name
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return await stream_completion(
            runtime.runner,
            inp,
            model=model,
            include_usage=include_usage,
            cancel_on_disconnect=cancels_on_disconnect(request.headers),
        )
    result = await runtime.runner.run(inp)
    response = ChatCompletionResponse(
        model=model,
        choices=[
            Choice(
                message=ResponseMessage(
                    content=result.output or None if result.tool_calls else result.output,
                    tool_calls=list(result.tool_calls) or None,
                ),
                finish_reason=result.finish_reason,
            )
        ],
        usage=result.usage,
        session_id=session_id,
        pending_approvals=list(result.pending_approvals) or None,
    )
    return Response(response.model_dump_json(), media_type="application/json", headers={"X-Session-ID": session_id})
