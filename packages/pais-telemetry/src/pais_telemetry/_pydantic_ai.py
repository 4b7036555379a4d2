"""Pydantic AI instrumentation bound to the global providers, passed per run as a capability."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from ._providers import tracing_installed

if TYPE_CHECKING:
    from pydantic_ai.agent import AbstractAgent
    from pydantic_ai.capabilities import AbstractCapability, Instrumentation

__all__ = ["agent_capabilities"]


CAPTURE_CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def agent_capabilities(
    agent: AbstractAgent[Any, Any] | None = None, *, include_content: bool | None = None
) -> list[AbstractCapability[Any]]:
    """The capabilities to pass as `capabilities=` to `agent.run(...)` / `run_stream_events(...)` for tracing.

    Gives Pydantic AI's agent-run, model-request (`chat <model>`) and tool (`execute_tool <name>`)
    spans and its `gen_ai.client.token.usage` metric, on the global tracer and meter providers. The list
    is empty, so the run costs nothing extra, when no tracer provider is installed or when `agent`
    already instruments itself (`instrument=`, an `Instrumentation` capability or an instrumented model).

    Args:
        agent: the agent about to run; a user's custom agent keeps its own instrumentation.
        include_content: record prompts, completions and tool arguments/results on the spans; by default
            only when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` (the GenAI semantic
            conventions' opt-in: message content can be sensitive, and serialising it costs CPU per run).

    Raises:
        ImportError: `pydantic-ai` is not installed (install `pais-telemetry[pydantic-ai]`).
    """
    if not tracing_installed():
        return []
    try:
        from pydantic_ai import Agent
        from pydantic_ai.models.instrumented import InstrumentedModel
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("agent_capabilities needs Pydantic AI: install `pais-telemetry[pydantic-ai]`") from exc
    if isinstance(agent, Agent) and (agent.instrument or isinstance(agent.model, InstrumentedModel)):
        return []
    if agent is not None and _has_instrumentation(agent):
        return []
    if include_content is None:
        include_content = os.environ.get(CAPTURE_CONTENT_VARIABLE, "").strip().lower() == "true"
    return [_instrumentation(trace.get_tracer_provider(), metrics.get_meter_provider(), include_content)]


def _has_instrumentation(agent: AbstractAgent[Any, Any]) -> bool:
    from pydantic_ai.capabilities import Instrumentation, WrapperCapability

    leaves: list[AbstractCapability[Any]] = []
    try:
        agent.root_capability.apply(leaves.append)
    except NotImplementedError:
        return False
    for leaf in leaves:
        while isinstance(leaf, WrapperCapability):
            leaf = leaf.wrapped
        if isinstance(leaf, Instrumentation):
            return True
    return False


@lru_cache(maxsize=4)
def _instrumentation(
    tracer_provider: TracerProvider, meter_provider: MeterProvider, include_content: bool
) -> Instrumentation:
    # One capability per provider pair: Pydantic AI copies it per run (`for_run`), and building the
    # settings creates the token-usage histograms, which should happen once.
    from pydantic_ai.capabilities import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings

    settings = InstrumentationSettings(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        include_content=include_content,
        # The full request parameters (every tool schema) on every model span: large and costly;
        # `gen_ai.tool.definitions` still names the tools offered.
        include_model_request_parameters=False,
    )
    return Instrumentation(settings=settings)
