"""Memory events describing one agent run, derived from the run's native messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_core import to_jsonable_python

from pais_core import EventType, MemoryEvent

__all__ = ["DELEGATION_PREFIX", "TargetResolver", "delegation_target", "error_event", "turn_events", "user_event"]

DELEGATION_PREFIX = "delegate_to_"

TargetResolver = Callable[[str], str | None]
"""Maps a tool name to the sub-agent it delegates to, or None for ordinary tools."""


def delegation_target(tool_name: str) -> str | None:
    """The sub-agent a `delegate_to_<name>` tool calls, by tool name alone, or None for other tools."""
    return tool_name.removeprefix(DELEGATION_PREFIX) if tool_name.startswith(DELEGATION_PREFIX) else None


def _trace_metadata() -> dict[str, Any]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def _event(event_type: EventType, content: Any, **metadata: Any) -> MemoryEvent:
    return MemoryEvent(event_type=event_type, content=content, metadata={**_trace_metadata(), **metadata})


def user_event(prompt: str, *, delegated: bool) -> MemoryEvent:
    """The turn's input: a user's message, or a task another agent delegated."""
    if delegated:
        return _event("task_delegation_received", prompt)
    return _event("user_message", prompt)


def error_event(code: str, message: str) -> MemoryEvent:
    return _event("error", message, code=code)


def turn_events(
    messages: Sequence[ModelMessage],
    output: str,
    usage: dict[str, int],
    *,
    target_for: TargetResolver = delegation_target,
) -> list[MemoryEvent]:
    """Tool/delegation calls and results in run order, then the agent's response."""
    events: list[MemoryEvent] = []
    for message in messages:
        if isinstance(message, ModelResponse):
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    target = target_for(part.tool_name)
                    content = {
                        "tool": part.tool_name,
                        "arguments": part.args_as_dict(),
                        "tool_call_id": part.tool_call_id,
                    }
                    if target is None:
                        events.append(_event("tool_call", content))
                    else:
                        events.append(_event("delegation_request", {**content, "target": target}))
        else:
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    target = target_for(part.tool_name)
                    success = part.outcome == "success"
                    content = {
                        "tool": part.tool_name,
                        "result": to_jsonable_python(part.content, fallback=str),
                        "tool_call_id": part.tool_call_id,
                        "success": success,
                        **({} if success else {"outcome": part.outcome}),
                    }
                    if target is None:
                        events.append(_event("tool_result", content))
                    else:
                        events.append(_event("delegation_response", {**content, "target": target}))
    events.append(_event("agent_response", output, usage=usage))
    return events
