"""Human approval of tool calls (issue #19): which calls wait for a person, and how decisions read.

Built on the deferred-call machinery (`_deferred`): a call that needs approval raises Pydantic AI's
`ApprovalRequired` (through `ApprovalPolicy`, or a custom agent's `requires_approval=True` tool), the
run pauses with it in `DeferredToolRequests.approvals`, and the client's decisions resume it as
`DeferredToolResults.approvals`: approved calls execute, denied ones return the reason to the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai import RunContext, ToolDenied
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset

from pais_core import BadRequestError, MemoryEvent

__all__ = [
    "MCP_SERVER_KEY",
    "MCP_TOOL_KEY",
    "TIMED_OUT_MESSAGE",
    "ApprovalPolicy",
    "Decision",
    "approval_decided",
    "approval_decision",
    "approval_patterns",
    "approval_requested",
    "needs_approval",
    "relayed_decision",
]

MCP_SERVER_KEY = "pais_mcp_server"
"""`ToolDefinition.metadata` key naming the MCP server a tool comes from (for `<server>.<tool>` patterns)."""
MCP_TOOL_KEY = "pais_mcp_tool"
"""`ToolDefinition.metadata` key holding an MCP tool's name on its server (its exposed name may be prefixed)."""
TIMED_OUT_MESSAGE = "Nobody approved this tool call in time; it was not run."
"""The denial of a call whose approval deadline passed without a decision (the model and sub-agents see it)."""


def approval_patterns(setting: str) -> tuple[str, ...]:
    """`TOOLS_REQUIRE_APPROVAL` as its names and globs."""
    return tuple(pattern for part in setting.split(",") if (pattern := part.strip()))


def needs_approval(patterns: Sequence[str], tool: ToolDefinition) -> bool:
    """Whether a call of `tool` waits for approval: its name, or `<mcp-server>.<tool>`, matches a pattern."""
    names = [tool.name]
    metadata = tool.metadata or {}
    if server := metadata.get(MCP_SERVER_KEY):
        names.append(f"{server}.{metadata.get(MCP_TOOL_KEY, tool.name)}")
    return any(fnmatchcase(name, pattern) for pattern in patterns for name in names)


@dataclass
class ApprovalPolicy(AbstractCapability[Any]):
    """Wraps a run's tools so that calls matching `patterns` pause for approval instead of running."""

    patterns: tuple[str, ...]

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any] | None:
        patterns = self.patterns

        def required(ctx: RunContext[Any], tool: ToolDefinition, args: dict[str, Any]) -> bool:
            return needs_approval(patterns, tool)

        return toolset.approval_required(required)


class Decision(BaseModel):
    """A person's decision on a call awaiting approval, the same over every protocol."""

    model_config = ConfigDict(extra="forbid", strict=True)

    approved: bool
    reason: str | None = Field(default=None, max_length=4000)
    """Why it was denied: the model sees it as the tool's failure."""


def _read(call_id: str, content: str) -> Decision:
    try:
        return Decision.model_validate_json(content)
    except ValidationError:
        raise BadRequestError(
            f"the tool message for {call_id!r} answers a call awaiting approval: its content must be "
            '{"approved": true} or {"approved": false, "reason": "..."} (at most 4000 characters)',
            param="messages",
        ) from None


def relayed_decision(call_id: str, content: str) -> dict[str, Any]:
    """A decision on a sub-agent's call as it is sent down: `{"approved": bool, "reason"?: str}`.

    Raises:
        BadRequestError: the content is not such an object.
    """
    return _read(call_id, content).model_dump(exclude_none=True)


def approval_decision(call_id: str, content: str) -> bool | ToolDenied:
    """A `tool` message's decision on a call awaiting approval: `{"approved": bool, "reason"?: str}`.

    Raises:
        BadRequestError: the content is not such an object.
    """
    decision = _read(call_id, content)
    if decision.approved:
        return True
    reason = decision.reason
    return ToolDenied(f"The user denied this tool call: {reason}" if reason else "The user denied this tool call.")


def approval_requested(
    call_id: str, tool: str, arguments: str, *, agent: str | None, principal: str | None, deadline: float
) -> MemoryEvent:
    """The memory event of a call starting to await approval (which agent runs it, who asked, until when).

    `agent` is the path of the sub-agent that runs the call (`worker-a/worker-b`), None for this agent's own.
    """
    content = {"id": call_id, "tool": tool, "arguments": arguments, "agent": agent}
    return MemoryEvent(
        event_type="approval_requested", content=content, metadata={"principal": principal, "deadline": deadline}
    )


def approval_decided(
    call_id: str, tool: str, decision: object, *, agent: str | None, principal: str | None, timed_out: bool
) -> MemoryEvent:
    """The memory event of a decision on a call awaiting approval (which agent runs it, who decided; its
    timestamp is when)."""
    reason = decision.message if isinstance(decision, ToolDenied) else None
    content = {
        "id": call_id,
        "tool": tool,
        "agent": agent,
        "approved": decision is True,
        "reason": reason,
        "timed_out": timed_out,
    }
    return MemoryEvent(event_type="approval_decided", content=content, metadata={"principal": principal})
