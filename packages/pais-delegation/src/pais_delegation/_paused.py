"""A delegation paused because the sub-agent awaits a person's approval of its own tool calls.

A sub-agent reached over A2A that pauses for approval ends its task `input-required` with a status
message data part `{"approvals": [{"id", "tool", "arguments", "agent"?}]}` (`agent`: the path below
it when the call surfaced through its own delegation). The delegate tool then raises Pydantic AI's
`ApprovalRequired` with `{PAUSED_KEY: {"agent", "task_id", "approvals"}}` metadata, so the caller's
run pauses too with these calls, re-labelled for the caller: each id is prefixed with `<name>:`
(`worker-a:worker-b:<id>`: unique across agents, and safe in a URL path) and each agent path with
`<name>/` (`worker-a/worker-b`).

The caller resumes by approving the delegate call (`ToolApproved`) with `with_decisions(...)` as
its `DeferredToolResults.metadata`: the tool runs again, sends the decisions down on the same task,
and returns the sub-agent's answer, or raises `ApprovalRequired` again if it paused again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from pais_core import DataPart, Task

__all__ = [
    "DECISIONS_KEY",
    "PAUSED_KEY",
    "DelegatedApproval",
    "delegated_approvals",
    "own_ids",
    "paused_metadata",
    "paused_task",
    "resume_of",
    "task_approvals",
    "with_decisions",
]

PAUSED_KEY = "pais_delegation_paused"
"""`ApprovalRequired` metadata key of a delegation paused on the sub-agent's approvals."""
DECISIONS_KEY = "pais_delegation_decisions"
"""Resume metadata key: `{"<approval id>": {"approved": bool, "reason"?: str}}`."""


@dataclass(frozen=True)
class DelegatedApproval:
    """A sub-agent's tool call awaiting approval, as the delegating agent exposes it."""

    id: str
    """Unique across agents: the sub-agent's own id prefixed with its name (`worker-a:<id>`)."""
    tool: str
    arguments: Any
    agent: str
    """The path of the agent that will run the call, from the delegating agent (`worker-a/worker-b`)."""


_APPROVALS = TypeAdapter(list[DelegatedApproval])


def task_approvals(agent: str, task: Task) -> list[DelegatedApproval]:
    """The calls a sub-agent's `input-required` task awaits approval of, re-labelled for its caller."""
    if task.status.state != "input-required" or task.status.message is None:
        return []
    found: list[DelegatedApproval] = []
    for part in task.status.message.parts:
        data = part.data if isinstance(part, DataPart) else None
        if not isinstance(data, dict) or not isinstance(listed := cast(dict[str, Any], data).get("approvals"), list):
            continue
        for item in cast(list[Any], listed):
            if isinstance(item, dict) and isinstance((entry := cast(dict[str, Any], item)).get("id"), str):
                below = entry.get("agent")
                found.append(
                    DelegatedApproval(
                        id=f"{agent}:{entry['id']}",
                        tool=str(entry.get("tool", "")),
                        arguments=entry.get("arguments"),
                        agent=f"{agent}/{below}" if isinstance(below, str) and below else agent,
                    )
                )
    return found


def paused_metadata(agent: str, task_id: str, approvals: list[DelegatedApproval]) -> dict[str, Any]:
    """The `ApprovalRequired` metadata of a delegation paused on `approvals` (task `task_id` of `agent`)."""
    return {PAUSED_KEY: {"agent": agent, "task_id": task_id, "approvals": [asdict(a) for a in approvals]}}


def delegated_approvals(metadata: Mapping[str, Any] | None) -> list[DelegatedApproval] | None:
    """The sub-agent's calls a paused delegation awaits (from `DeferredToolRequests.metadata[<call id>]`).

    None when the metadata is not a paused delegation's.
    """
    paused = (metadata or {}).get(PAUSED_KEY)
    if not isinstance(paused, dict):
        return None
    try:
        return _APPROVALS.validate_python(cast(dict[str, Any], paused).get("approvals"))
    except ValidationError:
        return None


def with_decisions(metadata: Mapping[str, Any] | None, decisions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The resume metadata of a paused delegation: its pause metadata plus the decisions by approval id."""
    return {**(metadata or {}), DECISIONS_KEY: {call_id: dict(decision) for call_id, decision in decisions.items()}}


def paused_task(metadata: Any) -> tuple[str, str] | None:
    """`(agent name, task id)` of the sub-agent task a paused delegation's metadata names."""
    paused = cast(dict[str, Any], metadata).get(PAUSED_KEY) if isinstance(metadata, dict) else None
    if not isinstance(paused, dict):
        return None
    agent, task_id = cast(dict[str, Any], paused).get("agent"), cast(dict[str, Any], paused).get("task_id")
    return (agent, task_id) if isinstance(agent, str) and isinstance(task_id, str) else None


def own_ids(agent: str, decisions: Mapping[str, Any]) -> dict[str, Any]:
    """`decisions` keyed by the sub-agent's own approval ids (without the `<agent>:` prefix)."""
    prefix = f"{agent}:"
    return {call_id.removeprefix(prefix): decision for call_id, decision in decisions.items()}


def resume_of(agent: str, metadata: Any) -> tuple[str, dict[str, Any]] | None:
    """`(task_id, decisions by the sub-agent's own ids)` when `metadata` resumes a delegation to `agent`."""
    paused = paused_task(metadata)
    decisions = cast(dict[str, Any], metadata).get(DECISIONS_KEY) if isinstance(metadata, dict) else None
    if paused is None or paused[0] != agent or not isinstance(decisions, dict):
        return None
    return paused[1], own_ids(agent, cast(dict[str, Any], decisions))
