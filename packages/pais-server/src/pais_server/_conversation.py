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


def split_conversation(messages: list[ChatMessage]) -> Conversation:
    """Split a Chat Completions `messages` list.

    Raises:
        BadRequestError: the list does not end with a user message with text, or an assistant
            message's `tool_calls` are not all answered by tool messages before the next message.
    """
    last = messages[-1]
    if last.role != "user":
        raise BadRequestError(f"the last message must have role 'user', got {last.role!r}")
    prompt = last.text()
    if not prompt.strip():
        raise BadRequestError("the last user message has no text content")
    system = [m.text() for m in messages[:-1] if m.role in ("system", "developer") and m.text()]
    return Conversation(
        prompt=prompt,
        history=_history(messages[:-1]),
        system="\n\n".join(system) or None,
    )


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
