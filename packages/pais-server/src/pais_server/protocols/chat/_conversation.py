"""OpenAI chat messages to a Pydantic AI prompt, history and extra instructions."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from pais_core import BadRequestError, ChatMessage

__all__ = ["Conversation", "split_conversation"]


@dataclass(frozen=True)
class Conversation:
    """The request's last user message, the messages before it, and its system messages."""

    prompt: str
    history: list[ModelMessage]
    system: str | None
    tool_results: dict[str, str] | None = None
    """The answers (`tool_call_id` -> text) of trailing `tool` messages: a turn resuming client tool
    calls, whose `history` then ends with those results; None for a turn ending with a user message."""


def split_conversation(messages: list[ChatMessage]) -> Conversation:
    """Split a Chat Completions `messages` list.

    Raises:
        BadRequestError: the list does not end with a user message with text or with tool results,
            or an assistant message's `tool_calls` are not all answered by tool messages before the
            next message, or two tool messages answer one call.
    """
    last = messages[-1]
    system = "\n\n".join(m.text() for m in messages if m.role in ("system", "developer") and m.text()) or None
    if last.role in ("tool", "function"):
        return _resuming(messages, system)
    if last.role != "user":
        raise BadRequestError(f"the last message must have role 'user' or 'tool', got {last.role!r}")
    prompt = last.text()
    if not prompt.strip():
        raise BadRequestError("the last user message has no text content")
    return Conversation(prompt=prompt, history=_history(messages[:-1]), system=system)


def _resuming(messages: list[ChatMessage], system: str | None) -> Conversation:
    """A conversation ending with tool results: the client answered client tool calls."""
    start = len(messages)
    while start > 0 and messages[start - 1].role in ("tool", "function"):
        start -= 1
    results: dict[str, str] = {}
    for message in messages[start:]:
        if not message.tool_call_id:
            raise BadRequestError("a tool message needs the tool_call_id it answers", param="messages")
        if message.tool_call_id in results:  # e.g. an approval and a denial of one call
            raise BadRequestError(f"two tool messages answer tool call {message.tool_call_id!r}", param="messages")
        results[message.tool_call_id] = message.text()
    prompt = next((m.text() for m in reversed(messages[:start]) if m.role == "user"), "")
    return Conversation(prompt=prompt, history=_history(messages), system=system, tool_results=results)


def _history(messages: list[ChatMessage]) -> list[ModelMessage]:
    history: list[ModelMessage] = []
    pending: list[ModelRequestPart] = []
    tool_names: dict[str, str] = {}
    unanswered: list[str] = []

    def check_answered() -> None:
        if unanswered:
            raise BadRequestError(
                "an assistant message with 'tool_calls' must be followed by tool messages answering each"
                f" tool_call_id; no answer to {', '.join(repr(call_id) for call_id in unanswered)}"
            )

    def flush() -> None:
        if pending:
            history.append(ModelRequest(parts=list(pending)))
            pending.clear()

    for message in messages:
        if message.role == "user":
            check_answered()
            pending.append(UserPromptPart(content=message.text()))
        elif message.role in ("tool", "function"):
            call_id = message.tool_call_id or ""
            if call_id in unanswered:
                unanswered.remove(call_id)
            name = tool_names.get(call_id, message.name or "tool")
            pending.append(ToolReturnPart(tool_name=name, content=message.text(), tool_call_id=call_id))
        elif message.role == "assistant":
            check_answered()
            flush()
            parts: list[ModelResponsePart] = []
            if message.text():
                parts.append(TextPart(content=message.text()))
            for call in message.tool_calls or []:
                tool_names[call.id] = call.function.name
                unanswered.append(call.id)
                parts.append(
                    ToolCallPart(tool_name=call.function.name, args=call.function.arguments, tool_call_id=call.id)
                )
            if parts:
                history.append(ModelResponse(parts=parts))
    check_answered()
    flush()
    return history
