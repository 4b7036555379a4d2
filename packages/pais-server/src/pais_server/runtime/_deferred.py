"""Deferred calls: tool calls a run must not execute itself, so the run pauses and resumes later.

Design (DESIGN.md section 9):

- **Pause.** A call is deferred when the server does not run it: today a client tool (OpenAI
  `tools` in the request), offered to the model through Pydantic AI's `ExternalToolset` beside the
  agent's own tools. The run's output type admits `DeferredToolRequests`, so when the model calls a
  client tool Pydantic AI first executes the agent's own calls of that step, then ends the run with
  the pending calls. The run's state (`PausedRun`: its messages so far, where this turn's messages
  start, the prompt, the pending calls with ids, tool names and arguments, the client tools offered,
  the owner session, and the turn's system text, structured output and model settings) is stored in
  the memory backend with `Memory.put_paused_run`, keyed by the session, for `PAUSED_RUN_TTL_SECONDS`.
  Nothing is written to the session's history yet.
- **Resume.** Answers (OpenAI `tool` messages) arrive on the same session: `Memory.take_paused_run`
  removes the state atomically, on any replica, so one resumer wins and a run resumes exactly once;
  the answers become `DeferredToolResults` and the agent continues from the stored messages. The
  whole turn (before and after the pause) is written to the session's history once, when the run
  completes (or pauses again, in which case it is stored again).
- **Without stored state** (no session, or a client that re-sends the whole conversation), the
  request's own messages are the history, ending with the tool results; the model continues from
  them.
- **Approvals.** Human approval of tool calls (issue #19, `_approvals`) reuses this: calls that need
  approval arrive in `DeferredToolRequests.approvals` (`PendingCall.kind == "approval"`), decisions
  (`tool` messages `{"approved": bool, "reason"?}`) become `DeferredToolResults.approvals`, and the
  same stored `PausedRun` carries them across replicas, with who asked and the approval deadline
  past which they count as denied. Decisions made one by one (`POST /approvals/{id}`,
  `_approval_decisions`) are kept in `PausedRun.decisions` until the last one resumes the run.
- **Across agents.** A sub-agent reached through `delegate_to_<name>` that pauses for approval makes
  the delegate call raise `ApprovalRequired` with the sub-agent's pending calls in its metadata
  (`pais_delegation`'s `_paused`). The run pauses with one `PendingCall(kind="delegated")` per such
  call (id `worker-a:worker-b:<its id>`, `agent` its path `worker-a/worker-b`, `via` the delegate
  call); the metadata is kept in `PausedRun.metadata`. Decisions approve the delegate call with the
  decisions as its metadata: the tool runs again, sends them down on the sub-agent's task and returns
  its answer (or pauses the run again); the model is not asked again. Past the deadline they are sent
  down as denials.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic_ai import DeferredToolRequests, DeferredToolResults, RunContext, ToolDenied
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelMessage, ToolCallPart
from pydantic_ai.settings import ModelSettings, ToolChoice
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import ExternalToolset

from pais_core import BadRequestError, ChatTool, ToolCall, ToolCallFunction
from pais_delegation import delegated_approvals, with_decisions
from pais_memory import Memory

from ._approvals import TIMED_OUT_MESSAGE, approval_decision, relayed_decision
from ._structured_output import StructuredOutput

__all__ = [
    "FirstStepToolChoice",
    "PausedRun",
    "PendingCall",
    "approval_decisions",
    "client_tool_definitions",
    "client_toolset",
    "deferred_results",
    "peek_paused_run",
    "pending_calls",
    "save_paused_run",
    "take_paused_run",
]


@dataclass(frozen=True)
class PendingCall:
    """A deferred tool call awaiting its answer."""

    id: str
    tool: str
    arguments: str
    """The call's arguments as JSON text, as the model wrote them."""
    kind: Literal["external", "approval", "delegated"] = "external"
    """`delegated`: a sub-agent's call awaiting approval, surfaced through a delegation."""
    agent: str | None = None
    """For a delegated call: the path of the agent that runs it (`worker-a/worker-b`)."""
    via: str | None = None
    """For a delegated call: the id of this run's delegate call it surfaced through."""

    def to_openai(self) -> ToolCall:
        return ToolCall(id=self.id, function=ToolCallFunction(name=self.tool, arguments=self.arguments))


@dataclass
class PausedRun:
    """What a paused run needs to resume on any replica."""

    session_id: str
    prompt: str
    """The user prompt of the paused turn (recorded in the session's history when the run completes)."""
    messages: list[ModelMessage]
    turn_start: int
    """Index in `messages` of this turn's first message (earlier ones are history)."""
    pending: list[PendingCall]
    tools: list[ToolDefinition] = field(default_factory=list[ToolDefinition])
    """The client tools offered when the run paused."""
    paused_at: float = field(default_factory=time.time)
    approval_deadline: float | None = None
    """When calls awaiting approval count as denied (epoch seconds); None when none awaits approval."""
    principal: str | None = None
    """Who asked: the verified caller of the paused turn (None for the static API key)."""
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    """`DeferredToolRequests.metadata` of the pause, by tool call id (a paused delegation's task)."""
    system: str | None = None
    """The paused turn's own system text (a resume by approval id has no request to repeat it)."""
    output: StructuredOutput | None = None
    """The paused turn's structured output (`response_format`), for a resume by approval id."""
    model_settings: dict[str, Any] | None = None
    """The paused turn's model settings (temperature, max_tokens...), for a resume by approval id."""
    decisions: dict[str, str] = field(default_factory=dict[str, str])
    """Decisions recorded one by one (`POST /approvals/{id}`): call id -> `{"approved": bool, "reason"?}` text."""

    @property
    def approvals(self) -> list[PendingCall]:
        """The calls awaiting a person's approval: this agent's own and its sub-agents'."""
        return [call for call in self.pending if call.kind != "external"]

    def expired(self, now: float | None = None) -> bool:
        """Whether its calls awaiting approval are past their deadline (then they count as denied)."""
        return self.approval_deadline is not None and (now or time.time()) >= self.approval_deadline


_CODEC = TypeAdapter(PausedRun)


async def save_paused_run(memory: Memory, paused: PausedRun, *, ttl_seconds: float) -> None:
    """Store `paused` under its session, replacing a run paused there before.

    `ttl_seconds` counts from when it paused; a run awaiting approval is kept that long past its
    approval deadline, so a late resume still finds it and answers its calls as denied. A run with
    calls awaiting approval is listed (`GET /approvals`) under its session's owner.
    """
    end = max(paused.paused_at, paused.approval_deadline or 0.0) + ttl_seconds
    ttl = max(end - time.time(), 1.0)
    listed = any(call.id not in paused.decisions for call in paused.approvals)
    owner = await memory.session_owner(paused.session_id) if listed else None
    await memory.put_paused_run(
        paused.session_id, _CODEC.dump_json(paused), ttl_seconds=ttl, listed=listed, owner=owner
    )


async def peek_paused_run(memory: Memory, session_id: str) -> PausedRun | None:
    """The session's paused run, left in place (to list what it awaits)."""
    state = await memory.peek_paused_run(session_id)
    return None if state is None else _CODEC.validate_json(state)


async def take_paused_run(memory: Memory, session_id: str) -> PausedRun | None:
    """Remove and return the session's paused run: exactly one caller gets it."""
    state = await memory.take_paused_run(session_id)
    return None if state is None else _CODEC.validate_json(state)


def client_tool_definitions(tools: Sequence[ChatTool], *, taken: set[str]) -> list[ToolDefinition]:
    """The request's tools as Pydantic AI definitions.

    Raises:
        BadRequestError: a name appears twice or is one of the agent's own tools (`taken`).
    """
    definitions: list[ToolDefinition] = []
    seen: set[str] = set()
    for tool in tools:
        name = tool.function.name
        if name in taken:
            raise BadRequestError(f"tool {name!r} clashes with a tool of the agent; rename it", param="tools")
        if name in seen:
            raise BadRequestError(f"tool {name!r} is defined twice", param="tools")
        seen.add(name)
        schema = tool.function.parameters or {"type": "object", "properties": {}}
        definitions.append(
            ToolDefinition(
                name=name,
                description=tool.function.description,
                parameters_json_schema=schema,
                strict=tool.function.strict,
            )
        )
    return definitions


def client_toolset(definitions: Sequence[ToolDefinition]) -> ExternalToolset[Any]:
    """The client's tools: the model may call them, the run pauses instead of executing them."""
    return ExternalToolset(list(definitions), id="client-tools")


def pending_calls(requests: DeferredToolRequests) -> list[PendingCall]:
    """The deferred calls of a run that ended with `requests`, in call order.

    A delegate call paused on its sub-agent's approvals stands for those calls (kind `delegated`).
    """
    pending = [PendingCall(call.tool_call_id, call.tool_name, _arguments(call)) for call in requests.calls]
    for call in requests.approvals:
        delegated = delegated_approvals(requests.metadata.get(call.tool_call_id))
        if delegated is None:
            pending.append(PendingCall(call.tool_call_id, call.tool_name, _arguments(call), "approval"))
            continue
        pending += [
            PendingCall(d.id, d.tool, json.dumps(d.arguments), "delegated", agent=d.agent, via=call.tool_call_id)
            for d in delegated
        ]
    return pending


def _arguments(call: ToolCallPart) -> str:
    return call.args if isinstance(call.args, str) else json.dumps(call.args or {})


def deferred_results(paused: PausedRun, answers: Mapping[str, str]) -> DeferredToolResults:
    """The client's answers (`tool_call_id` -> result text, or a decision) to a paused run's calls.

    Decisions recorded on the paused run count as answers and are final (they win over the request's).
    Past the approval deadline every call awaiting approval is denied, whatever the answers say.

    Raises:
        BadRequestError: an answer for a call that is not pending, a pending call left unanswered,
            or a decision that is not `{"approved": bool, "reason"?: str}`.
    """
    answers = {**answers, **paused.decisions}
    if unknown := sorted(set(answers) - {call.id for call in paused.pending}):
        raise BadRequestError(f"no pending tool call has id {unknown[0]!r}", param="messages")
    expired = paused.expired()
    if missing := [c.id for c in paused.pending if c.id not in answers and not (expired and c.kind != "external")]:
        raise BadRequestError(f"the pending tool call {missing[0]!r} has no tool message", param="messages")
    calls = {call.id: answers[call.id] for call in paused.pending if call.kind == "external"}
    approvals: dict[str, Any] = {
        call.id: _decision(call, answers.get(call.id), expired=expired)
        for call in paused.approvals
        if call.kind == "approval"
    }
    relayed: dict[str, dict[str, dict[str, Any]]] = {}
    for call in paused.approvals:
        if call.kind == "delegated" and call.via is not None:
            answer = None if expired else answers.get(call.id)
            decision = _TIMED_OUT if answer is None else relayed_decision(call.id, answer)
            relayed.setdefault(call.via, {})[call.id] = decision
    # the delegate call runs again with the decisions, which it sends down to the sub-agent
    metadata = {via: with_decisions(paused.metadata.get(via), decided) for via, decided in relayed.items()}
    approvals |= dict.fromkeys(relayed, True)
    return DeferredToolResults(calls=dict[str, Any](calls), approvals=approvals, metadata=metadata)


def approval_decisions(paused: PausedRun, answers: Mapping[str, str]) -> dict[str, bool | ToolDenied]:
    """The decision on each call of `paused` awaiting approval, as recorded in memory."""
    expired = paused.expired()
    return {call.id: _decision(call, answers.get(call.id), expired=expired) for call in paused.approvals}


_TIMED_OUT = {"approved": False, "reason": TIMED_OUT_MESSAGE}


def _decision(call: PendingCall, answer: str | None, *, expired: bool) -> bool | ToolDenied:
    if expired or answer is None:
        return ToolDenied(TIMED_OUT_MESSAGE)
    return approval_decision(call.id, answer)


@dataclass
class FirstStepToolChoice(AbstractCapability[Any]):
    """`tool_choice` for the first model request of a run only (later steps are `auto`).

    OpenAI's `required` or a named function applies to one model call; forcing it on every step of an
    agent run would never let the run finish, and Pydantic AI refuses it as a static setting.
    """

    choice: ToolChoice

    def get_model_settings(self) -> Any:
        choice = self.choice

        def settings(ctx: RunContext[Any]) -> ModelSettings:
            return ModelSettings(tool_choice=choice) if ctx.run_step <= 1 else ModelSettings()

        return settings
