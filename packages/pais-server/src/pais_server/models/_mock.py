"""`DEBUG_MOCK_RESPONSES`: a scripted model that replays its list from the start for every run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from pais_core import MockReply, MockToolCalls

__all__ = ["mock_model"]


def _replies_so_far(messages: Sequence[ModelMessage]) -> int:
    """Model responses since the current run's user prompt: the position in the script.

    Derived from the messages alone, so concurrent runs never share a counter.
    """
    start = 0
    for index, message in enumerate(messages):
        if isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts):
            start = index
    return sum(1 for message in messages[start:] if isinstance(message, ModelResponse))


def _arguments(arguments: dict[str, object] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def mock_model(replies: Sequence[MockReply]) -> FunctionModel:
    """A model answering with `replies` in order, per run; past the end the last reply repeats."""
    script = list(replies)

    def reply_for(messages: Sequence[ModelMessage]) -> MockReply:
        return script[min(_replies_so_far(messages), len(script) - 1)]

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:  # async: no thread hop
        reply = reply_for(messages)
        if isinstance(reply, MockToolCalls):
            return ModelResponse(
                parts=[ToolCallPart(tool_name=c.name, args=_arguments(c.arguments)) for c in reply.tool_calls]
            )
        return ModelResponse(parts=[TextPart(content=reply)])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        reply = reply_for(messages)
        if isinstance(reply, MockToolCalls):
            yield {
                i: DeltaToolCall(name=c.name, json_args=_arguments(c.arguments)) for i, c in enumerate(reply.tool_calls)
            }
            return
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield word if i == len(words) - 1 else f"{word} "

    return FunctionModel(respond, stream_function=stream, model_name="mock")
