"""Folds turns that left the history into a session's running summary, using a model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic_ai.agent import AbstractAgent
from pydantic_ai.direct import model_request
from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, infer_model

from pais_core import PaisError, Settings

from ..models._factory import ModelHandle, model_from_settings
from ._tokens import estimate_tokens, messages_tokens, part_text

__all__ = ["SUMMARY_INSTRUCTIONS", "Summariser", "summariser_for", "transcript"]

SUMMARY_INSTRUCTIONS = (
    "You keep the running summary of a conversation between a user and an assistant. "
    "Rewrite the summary so far to also cover the new part of the conversation. Keep what the user "
    "said about themselves, facts, decisions, results of tools and open questions; drop small talk. "
    "Answer with the summary only, in a few short sentences."
)
_TOOL_RESULT_CHARS = 2000
_MAX_SUMMARY_TOKENS = 256


class Summariser:
    """Incremental: each model call gets the previous summary and a slice of newly dropped turns, nothing else."""

    def __init__(self, model: Model, *, max_tokens: int, input_tokens: int | None = None) -> None:
        """
        Args:
            max_tokens: longest summary the model may write.
            input_tokens: most tokens of turns per call; more turns take several calls, each
                folding its slice into the summary the previous one wrote.
        """
        self._model = model
        self._max_tokens = max_tokens
        self._input_tokens = input_tokens

    async def summarise(self, previous: str, turns: Sequence[Sequence[ModelMessage]]) -> str:
        """The summary `previous` extended by `turns` (oldest first)."""
        summary = previous
        for chunk in self._chunks(turns, previous):
            summary = await self._fold(summary, chunk)
        return summary

    def _chunks(self, turns: Sequence[Sequence[ModelMessage]], previous: str) -> Iterator[list[ModelMessage]]:
        limit = None if self._input_tokens is None else self._input_tokens - estimate_tokens(previous)
        chunk: list[ModelMessage] = []
        for turn in turns:
            if chunk and limit is not None and messages_tokens([*chunk, *turn]) > limit:
                yield chunk
                chunk = []
            chunk.extend(turn)
        if chunk:
            yield chunk

    async def _fold(self, previous: str, messages: list[ModelMessage]) -> str:
        prompt = f"Summary so far:\n{previous or '(none yet)'}\n\nNew part of the conversation:\n{transcript(messages)}"
        # one plain model request: no agent loop, tools or output validation to pay for
        request = ModelRequest(parts=[SystemPromptPart(SUMMARY_INSTRUCTIONS), UserPromptPart(prompt)])
        response = await model_request(
            self._model, [request], model_settings={"max_tokens": self._max_tokens, "temperature": 0.0}
        )
        text = (response.text or "").strip()
        if not text:
            raise PaisError("the summary model answered with no text")
        return text


def transcript(messages: Sequence[ModelMessage]) -> str:
    """Messages as plain `User:` / `Assistant:` lines, tool calls and (long results cut) returns included."""
    lines: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                lines.append(f"User: {part_text(part)}")
            elif isinstance(part, TextPart) and isinstance(message, ModelResponse) and part.content.strip():
                lines.append(f"Assistant: {part.content}")
            elif isinstance(part, BaseToolCallPart):
                lines.append(f"Assistant called {part.tool_name} with {part.args_as_json_str()}")
            elif isinstance(part, BaseToolReturnPart):
                lines.append(f"{part.tool_name} returned: {part.model_response_str()[:_TOOL_RESULT_CHARS]}")
    return "\n".join(lines)


def summariser_for(
    settings: Settings, handle: ModelHandle | None, agent: AbstractAgent[Any, Any]
) -> tuple[Summariser | None, ModelHandle | None]:
    """The summariser `MEMORY_ROLLING_SUMMARY` asks for (None when off) and the model handle it owns, if any.

    Its model is `MEMORY_SUMMARY_MODEL` at `MODEL_API_URL`, else the agent's (`handle`, the
    environment's model, or the custom agent's own). Summaries stay short, slices within the budget.
    """
    if not settings.memory_rolling_summary:
        return None, None
    own = None
    if settings.memory_summary_model is not None:
        own = model_from_settings(settings.model_copy(update={"model_name": settings.memory_summary_model}))
    chosen = own or handle
    if chosen is not None:
        model = chosen.model
    else:
        assert agent.model is not None  # a custom agent without a model gets the environment's (`handle`)
        model = infer_model(agent.model)
    budget = settings.memory_short_term_token_budget
    if budget is None:
        return Summariser(model, max_tokens=_MAX_SUMMARY_TOKENS), own
    return Summariser(model, max_tokens=min(_MAX_SUMMARY_TOKENS, budget // 4), input_tokens=budget * 3 // 4), own
