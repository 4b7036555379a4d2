"""Memory events describing one agent run, derived from the run's native messages."""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["DELEGATION_PREFIX", "delegation_target", "error_event", "turn_events", "user_event"]

DELEGATION_PREFIX = "delegate_to_"


def delegation_target(tool_name: str) -> str | None:
    """The sub-agent a `delegate_to_<name>` tool calls, or None for other tools."""
    return tool_name.removeprefix(DELEGATION_PREFIX) if tool_name.startswith(DELEGATION_PREFIX) else None


def _trace_metadata() -> dict[str, Any]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def _event(event_type: EventType, content: Any, **metadata: Any) -> MemoryEvent:
    return MemoryEvent(event_type=event_type, content=content, metadata={**_trace_metadata(), **metadata})


def user_event(prompt: str, *, source: str) -> MemoryEvent:
    kind: EventType = "task_delegation_received" if source == "delegation" else "user_message"
    return _event(kind, prompt, source=source)


def error_event(code: str, message: str) -> MemoryEvent:
    return _event("error", message, code=code)


def turn_events(messages: Sequence[ModelMessage], output: str, usage: dict[str, int]) -> list[MemoryEvent]:
    """Tool/delegation calls and results in run order, then the agent's response."""
    events: list[MemoryEvent] = []
    for message in messages:
        if isinstance(message, ModelResponse):
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    target = delegation_target(part.tool_name)
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
                    target = delegation_target(part.tool_name)
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
