"""Pydantic AI instrumentation bound to the global providers, passed per run as a capability."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from ._instruments import pais_histogram
from ._providers import metrics_installed, tracing_installed

if TYPE_CHECKING:
    from pydantic_ai.agent import AbstractAgent
    from pydantic_ai.capabilities import AbstractCapability, Instrumentation
    from pydantic_ai.messages import ModelMessage

__all__ = ["agent_capabilities", "record_token_usage"]

TOKEN_USAGE = "gen_ai.client.token.usage"
# The GenAI semantic conventions' advisory buckets for token counts.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)


CAPTURE_CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def agent_capabilities(
    agent: AbstractAgent[Any, Any] | None = None, *, include_content: bool | None = None
) -> list[AbstractCapability[Any]]:
    """The capabilities to pass as `capabilities=` to `agent.run(...)` / `run_stream_events(...)` for tracing.

    Gives Pydantic AI's agent-run, model-request (`chat <model>`) and tool (`execute_tool <name>`)
    spans and its `gen_ai.client.token.usage` metric, on the global tracer and meter providers. The list
    is empty, so the run costs nothing extra, when no tracer provider is installed, when `agent`
    already instruments itself (`instrument=`, an `Instrumentation` capability or an instrumented model),
    or when the current trace is not sampled (`OTEL_TRACES_SAMPLER`): Pydantic AI's instrumentation
    costs about as much CPU when its spans are dropped as when they are kept. Call
    `record_token_usage` after such a run to keep the token metric complete.

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
    if _instruments_itself(agent) or not _current_trace_sampled():
        return []
    if include_content is None:
        include_content = os.environ.get(CAPTURE_CONTENT_VARIABLE, "").strip().lower() == "true"
    return [_instrumentation(trace.get_tracer_provider(), metrics.get_meter_provider(), include_content)]


def record_token_usage(agent: AbstractAgent[Any, Any] | None, messages: Sequence[ModelMessage]) -> None:
    """Record `gen_ai.client.token.usage` for the model responses in `messages` (a run's new messages).

    For a run that went without `agent_capabilities()`' instrumentation (an unsampled trace, or
    traces off and metrics on): the points Pydantic AI would have recorded, one per response and token
    type, on the `pais` meter. Does nothing when no meter provider is installed or when the run was
    instrumented after all (`agent_capabilities(agent)` is not empty, or `agent` instruments itself).
    """
    if not metrics_installed() or _instruments_itself(agent):
        return
    if tracing_installed() and _current_trace_sampled():
        return  # `agent_capabilities()` instrumented this run: Pydantic AI recorded its tokens
    from pydantic_ai.messages import ModelResponse

    histogram = pais_histogram(
        TOKEN_USAGE,
        unit="{token}",
        description="Measures number of input and output tokens used",
        buckets=TOKEN_BUCKETS,
    )
    for message in messages:
        if not isinstance(message, ModelResponse):
            continue
        attributes: dict[str, str] = {"gen_ai.operation.name": "chat"}
        if message.provider_name:
            attributes["gen_ai.provider.name"] = attributes["gen_ai.system"] = message.provider_name
        if message.model_name:
            attributes["gen_ai.request.model"] = attributes["gen_ai.response.model"] = message.model_name
        for token_type, tokens in (("input", message.usage.input_tokens), ("output", message.usage.output_tokens)):
            if tokens:
                histogram.record(tokens, {**attributes, "gen_ai.token.type": token_type})


def _current_trace_sampled() -> bool:
    """False inside a span whose trace the sampler dropped; True in a sampled trace or outside any span."""
    span_context = trace.get_current_span().get_span_context()
    return not span_context.is_valid or span_context.trace_flags.sampled


def _instruments_itself(agent: AbstractAgent[Any, Any] | None) -> bool:
    try:
        from pydantic_ai import Agent
        from pydantic_ai.capabilities import Instrumentation, WrapperCapability
        from pydantic_ai.models.instrumented import InstrumentedModel
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("agent instrumentation needs Pydantic AI: install `pais-telemetry[pydantic-ai]`") from exc

    if agent is None:
        return False
    if isinstance(agent, Agent) and (agent.instrument or isinstance(agent.model, InstrumentedModel)):
        return True

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
