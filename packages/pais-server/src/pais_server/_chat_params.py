"""Chat Completions parameters: each one forwarded to the model as a Pydantic AI setting, or refused."""

from __future__ import annotations

from typing import Any, cast

from pydantic_ai.settings import ModelSettings

from pais_core import BadRequestError, ChatCompletionRequest

__all__ = ["model_settings", "refuse_unsupported"]


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """Raise a 400 naming the first parameter PAIS cannot honour (rather than dropping it silently)."""
    if body.n is not None and body.n > 1:
        raise BadRequestError("n > 1 is not supported: an agent run gives one answer", param="n")
    if body.logprobs:
        raise BadRequestError("logprobs are not supported: an answer spans several model calls", param="logprobs")
    if body.top_logprobs:
        raise BadRequestError("top_logprobs is not supported (nor are logprobs)", param="top_logprobs")
    if body.modalities is not None and any(modality != "text" for modality in body.modalities):
        raise BadRequestError("modalities: only text output is supported", param="modalities")
    if body.audio is not None:
        raise BadRequestError("audio output is not supported (only text)", param="audio")


def model_settings(body: ChatCompletionRequest) -> ModelSettings | None:
    """The request's sampling parameters as Pydantic AI model settings (None when it sets none)."""
    settings: dict[str, Any] = {
        "temperature": body.temperature,
        "top_p": body.top_p,
        "seed": body.seed,
        "max_tokens": body.max_completion_tokens or body.max_tokens,
        "presence_penalty": body.presence_penalty,
        "frequency_penalty": body.frequency_penalty,
        "logit_bias": body.logit_bias,
        "stop_sequences": [body.stop] if isinstance(body.stop, str) else body.stop,
        "openai_user": body.user,  # OpenAIChatModelSettings; other models ignore it
    }
    present = {name: value for name, value in settings.items() if value is not None}
    return cast(ModelSettings, present) if present else None
