"""How many tokens a piece of history costs: the model's own count where known, an estimate otherwise.

The estimate is one token per 4 bytes of UTF-8 text (rounded up) plus `PART_OVERHEAD` tokens per
message part for the chat template's role markers and separators. A stored model response carries
the model's reported `output_tokens`, which is used for it instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    UserPromptPart,
)

__all__ = ["PART_OVERHEAD", "estimate_tokens", "messages_tokens", "part_text"]

PART_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """Estimated tokens of `text`: UTF-8 bytes / 4, rounded up."""
    return -(-len(text.encode()) // 4)


def part_text(part: ModelRequestPart | ModelResponsePart) -> str:
    """The text a part puts in front of the model (non-text content such as images counts as none)."""
    if isinstance(part, BaseToolReturnPart):
        return part.model_response_str()
    if isinstance(part, BaseToolCallPart):
        return f"{part.tool_name} {part.args_as_json_str()}"
    if isinstance(part, UserPromptPart) and not isinstance(part.content, str):
        return "".join(item for item in part.content if isinstance(item, str))
    content = getattr(part, "content", None)
    return content if isinstance(content, str) else ""


def messages_tokens(messages: Sequence[ModelMessage]) -> int:
    """Tokens of `messages`: a response's reported output tokens when known, else the estimate."""
    total = 0
    for message in messages:
        if isinstance(message, ModelResponse) and message.usage.output_tokens:
            total += message.usage.output_tokens + PART_OVERHEAD
        else:
            total += sum(estimate_tokens(part_text(part)) + PART_OVERHEAD for part in message.parts)
    return total
