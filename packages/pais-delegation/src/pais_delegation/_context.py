"""The recent conversation a delegation forwards to the sub-agent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic_ai.messages import ModelMessage, ModelRequest, TextPart, UserPromptPart

__all__ = ["ContextMessage", "recent_context", "render_context"]


@dataclass(frozen=True)
class ContextMessage:
    """One user or assistant message of the delegating agent's conversation."""

    role: Literal["user", "assistant"]
    content: str


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return "\n".join(item for item in part.content if isinstance(item, str))


def recent_context(
    messages: Sequence[ModelMessage], *, max_messages: int = 6, max_chars: int = 4000
) -> list[ContextMessage]:
    """The last user prompts and assistant texts of `messages`, oldest first.

    Tool calls, tool returns and instructions are left out. At most `max_messages` messages and
    `max_chars` characters are kept; the newest win, and a message that does not fit whole is cut.
    """
    found: list[ContextMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            texts = [_user_text(p) for p in message.parts if isinstance(p, UserPromptPart)]
            role: Literal["user", "assistant"] = "user"
        else:
            texts = [p.content for p in message.parts if isinstance(p, TextPart)]
            role = "assistant"
        text = "\n".join(t for t in texts if t.strip())
        if text:
            found.append(ContextMessage(role, text))
    kept: list[ContextMessage] = []
    budget = max_chars
    for item in reversed(found[-max_messages:] if max_messages > 0 else []):
        if budget <= 0:
            break
        content = item.content if len(item.content) <= budget else item.content[: max(budget - 3, 0)] + "..."
        kept.append(ContextMessage(item.role, content))
        budget -= len(content)
    kept.reverse()
    return kept


def render_context(context: Sequence[ContextMessage]) -> str:
    """The context as plain text, one `role: content` block per message."""
    return "\n".join(f"{m.role}: {m.content}" for m in context)
