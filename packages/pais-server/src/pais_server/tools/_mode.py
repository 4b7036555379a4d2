"""`TOOL_CALL_MODE`: native function calling, or string mode for models that cannot call tools.

`native` and `string` force the mode. `auto` probes the model API once per process and model: one
request offering a trivial tool (`pais_probe`) with an instruction to call it, `tool_choice` left at
`auto` (PAIS always runs with `auto`, and a server that only calls tools when forced, like
llama-cpp-python, cannot drive an agent loop). The answer decides:

- a native call of the probe tool: `native`;
- an HTTP error for the request with tools while the same request without tools succeeds: `string`
  (the API rejects `tools`);
- a plain text answer: `string` (the model does not call tools natively);
- anything else (API down, errors with and without tools, timeout): undecided, `native` for now and
  not cached, so the next `resolve_tool_mode` probes again.

A model without an HTTP API (Pydantic AI's `TestModel`, a scripted `FunctionModel`) is not probed: `native`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from pais_core import Settings

from ._string_mode import ConstrainedOutput, StringModeModel

__all__ = ["ToolModeDecision", "apply_tool_mode", "resolve_tool_mode"]

logger = logging.getLogger("pais_server.tool_mode")

PROBE_TOOL = "pais_probe"
_PROBE = ToolDefinition(
    name=PROBE_TOOL,
    description="Report that the assistant is ready. Call this tool when asked to.",
    parameters_json_schema={
        "type": "object",
        "properties": {"status": {"type": "string", "description": "the word ready"}},
        "required": ["status"],
    },
)
_PROBE_PROMPT = f'Call the {PROBE_TOOL} tool with status "ready". Do not answer in text.'

_decisions: dict[tuple[str, str | None, str], ToolModeDecision] = {}
"""Conclusive `auto` decisions, per process, keyed by (system, base URL, model name)."""


@dataclass(frozen=True)
class ToolModeDecision:
    """How tools reach the model, and why.

    Attributes:
        mode: `native` (the API's `tools`) or `string` (tools described in the prompt).
        reason: one sentence for logs and `/ready` details.
        source: `configured` (TOOL_CALL_MODE forced it), `probe` (decided by the probe) or
            `default` (auto could not decide or had nothing to probe; probed again next time).
    """

    mode: Literal["native", "string"]
    reason: str
    source: Literal["configured", "probe", "default"]

    def details(self) -> dict[str, str]:
        """JSON-ready form for readiness details."""
        return {"mode": self.mode, "reason": self.reason, "source": self.source}


async def resolve_tool_mode(settings: Settings, model: Model, *, timeout: float = 30.0) -> ToolModeDecision:
    """Decide the tool-call mode for `model` from `settings.tool_call_mode`, probing the API for `auto`.

    Never raises for an unreachable or failing model API: that is an undecided `native`.

    Args:
        settings: PAIS settings; `tool_call_mode` is read.
        model: the model as built from the settings (not yet wrapped for string mode).
        timeout: bound on each probe request, in seconds.
    """
    if settings.tool_call_mode != "auto":
        decision = ToolModeDecision(settings.tool_call_mode, f"TOOL_CALL_MODE={settings.tool_call_mode}", "configured")
    elif model.base_url is None:
        decision = ToolModeDecision("native", f"{model.system} model has no HTTP API to probe", "default")
    else:
        key = (model.system, model.base_url, model.model_name)
        decision = _decisions.get(key) or await _probe(model, timeout)
        if decision.source == "probe":
            _decisions[key] = decision
    logger.info("tool call mode %s (%s): %s", decision.mode, decision.source, decision.reason)
    return decision


def apply_tool_mode(model: Model, decision: ToolModeDecision, *, constrained: ConstrainedOutput = "auto") -> Model:
    """`model` itself for native mode, wrapped in a `StringModeModel` for string mode."""
    if decision.mode == "string":
        return StringModeModel(model, constrained=constrained)
    return model


async def _probe(model: Model, timeout: float) -> ToolModeDecision:
    settings = ModelSettings(temperature=0.0, max_tokens=64, timeout=timeout)
    try:
        response = await _ask(model, settings, with_tool=True)
    except ModelHTTPError as error:
        return await _after_rejection(model, settings, error)
    except (ModelAPIError, TimeoutError) as error:
        return _undecided(error)
    if any(isinstance(part, ToolCallPart) and part.tool_name == PROBE_TOOL for part in response.parts):
        return ToolModeDecision("native", "the model called the probe tool natively", "probe")
    return ToolModeDecision("string", "the model answered the probe in text instead of calling the tool", "probe")


async def _after_rejection(model: Model, settings: ModelSettings, error: ModelHTTPError) -> ToolModeDecision:
    try:
        await _ask(model, settings, with_tool=False)
    except (ModelAPIError, TimeoutError) as plain_error:
        return _undecided(plain_error)
    reason = f"the model API rejected a request with tools (HTTP {error.status_code}) and accepted it without"
    return ToolModeDecision("string", reason, "probe")


async def _ask(model: Model, settings: ModelSettings, *, with_tool: bool) -> ModelResponse:
    params = ModelRequestParameters(function_tools=[_PROBE] if with_tool else [])
    return await model.request([ModelRequest.user_text_prompt(_PROBE_PROMPT)], settings, params)


def _undecided(error: Exception) -> ToolModeDecision:
    reason = f"could not probe the model API ({type(error).__name__}: {error}); using native until a probe succeeds"
    return ToolModeDecision("native", reason[:300], "default")
