"""Chat Completions parameters: each one forwarded to the model as a Pydantic AI setting, or refused."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

from pydantic_ai.settings import ModelSettings, ToolChoice
from pydantic_ai.tools import ToolDefinition

from pais_core import AgentSkill, BadRequestError, ChatCompletionRequest, ChatTool, NamedToolChoice

from ...runtime._deferred import client_tool_definitions

__all__ = ["client_tools", "model_settings", "refuse_unsupported"]


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
        "parallel_tool_calls": body.parallel_tool_calls,
    }
    present = {name: value for name, value in settings.items() if value is not None}
    return cast(ModelSettings, present) if present else None


def client_tools(
    tools: Sequence[ChatTool] | None,
    choice: Literal["none", "auto", "required"] | NamedToolChoice | None,
    agent_skills: Callable[[], Sequence[AgentSkill]],
) -> tuple[list[ToolDefinition], ToolChoice]:
    """The request's client tools and the tool choice forced on the run's first model request.

    `tool_choice` `none` offers no client tools, `auto` (the default) offers them, `required` and a
    named function force a call on the first model request. `agent_skills` lists the agent's own
    tools (asked only when the request names tools).

    Raises:
        BadRequestError: a client tool clashes with the agent's, or the named tool does not exist.
    """
    if not tools and choice in (None, "auto", "none"):
        return [], None
    taken = {skill.id for skill in agent_skills()}
    definitions = client_tool_definitions(tools or [], taken=taken) if choice != "none" else []
    if choice is None or choice == "auto" or choice == "none":
        return definitions, None
    if choice == "required":
        return definitions, "required"
    name = choice.function.name
    if name not in taken and all(tool.name != name for tool in definitions):
        raise BadRequestError(f"tool_choice names {name!r}, which is not a tool of this request", param="tool_choice")
    return definitions, [name]
