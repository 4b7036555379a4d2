"""Deciding a paused run's calls by id (`POST /approvals/{id}`), and resuming it once all are decided.

A decision is stored with the paused run (`PausedRun.decisions`) while the session's lock is held, so
a decision arriving on another replica sees it, and a second one for the same call is refused (409).
When the run awaits nothing more, it resumes in the background through the runner, which takes the
paused run atomically (`take_paused_run`): however many replicas try, it resumes once, and its answer
is written to the session like any turn's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, cast

from pydantic_ai.settings import ModelSettings

from pais_core import NotFoundError, PaisError, Principal, current_principal
from pais_memory import Memory

from ._approvals import approval_decided, approval_decision
from ._deferred import PausedRun, PendingCall, peek_paused_run, save_paused_run
from ._runner import AgentRunner, RunInput, RunResult

__all__ = ["AlreadyDecidedError", "Decided", "decide", "resume"]

logger = logging.getLogger("pais_server.approvals")


class AlreadyDecidedError(PaisError):
    """A decision for a call that has one already."""

    status_code = 409
    error_type = "conflict_error"
    code = "already_decided"


@dataclass(frozen=True)
class Decided:
    """What a decision did."""

    call: PendingCall
    approved: bool
    timed_out: bool
    """The call's approval deadline had passed: the decision came too late and the call counts as denied."""
    awaiting: list[str]
    """The run's calls still awaiting a decision or a client's tool result (it may resume when none is left)."""
    paused: PausedRun
    acting_for: Principal | None
    """Whom the run resumes as: the decider, or the agent itself when an operator decided on its own run."""


async def decide(runner: AgentRunner, session_id: str, call_id: str, *, approved: bool, reason: str | None) -> Decided:
    """Record the current principal's decision on a call awaiting approval (`resume` the run once `awaiting` is empty).

    Raises:
        NotFoundError: the session is another principal's (the agent's own is decided by its operators), or no
            call of its paused run awaiting approval has that id.
        AlreadyDecidedError: the call was decided already.
        SessionBusyError: a run held the session for the whole `SESSION_LOCK_TIMEOUT_SECONDS`.
    """
    acting_for = await runner.access.resuming_as(session_id)
    memory, settings = runner.memory, runner.settings
    text = json.dumps({"approved": approved, "reason": reason} if reason else {"approved": approved})
    async with memory.session_lock(session_id, timeout=settings.session_lock_timeout_seconds):
        paused = await peek_paused_run(memory, session_id)
        call = next((c for c in paused.approvals if c.id == call_id), None) if paused is not None else None
        if paused is None or call is None:
            if await _decided_before(memory, session_id, call_id):
                raise AlreadyDecidedError(f"tool call {call_id!r} of session {session_id!r} was decided already")
            raise NotFoundError(f"no tool call awaiting approval has id {call_id!r} in session {session_id!r}")
        if call_id in paused.decisions:
            raise AlreadyDecidedError(f"tool call {call_id!r} of session {session_id!r} was decided already")
        timed_out = paused.expired()
        if not timed_out:  # too late: the resumed run records every call as denied for want of a decision
            paused.decisions[call_id] = text
            await save_paused_run(memory, paused, ttl_seconds=settings.paused_run_ttl_seconds)
            principal = current_principal()
            by = principal.id if principal is not None else None
            decision = approval_decision(call.id, text)
            event = approval_decided(call.id, call.tool, decision, agent=call.agent, principal=by, timed_out=False)
            await memory.append(session_id, [event])
    waits_for_person = {c.id for c in paused.approvals}
    awaiting = [
        c.id for c in paused.pending if c.id not in paused.decisions and not (timed_out and c.id in waits_for_person)
    ]
    return Decided(
        call=call,
        approved=approved and not timed_out,
        timed_out=timed_out,
        awaiting=awaiting,
        paused=paused,
        acting_for=acting_for,
    )


async def _decided_before(memory: Memory, session_id: str, call_id: str) -> bool:
    """Whether the session's memory records a decision on `call_id` (its run resumed since)."""
    cursor: str | None = None
    while True:
        try:
            page = await memory.get_events(session_id, cursor=cursor, limit=1000)
        except NotFoundError:
            return False
        decided = [cast(object, e.content) for e in page.items if e.event_type == "approval_decided"]
        if any(isinstance(c, dict) and cast(dict[str, Any], c).get("id") == call_id for c in decided):
            return True
        if page.next_cursor is None:
            return False
        cursor = page.next_cursor


def resume(runner: AgentRunner, paused: PausedRun) -> asyncio.Future[RunResult | PaisError]:
    """Resume a run whose calls are all decided, in the background; the future holds its result or error.

    It runs with the paused turn's system text, structured output and model settings (no request repeats them).

    (An A2A task's run resumes through its task instead: `A2ATasks.resume_decided`.)
    """
    inp = RunInput(
        session_id=paused.session_id,
        prompt=paused.prompt,
        system=paused.system,
        model_settings=cast(ModelSettings | None, paused.model_settings),
        output=paused.output,
        tool_results={},
    )
    outcome: asyncio.Future[RunResult | PaisError] = asyncio.get_running_loop().create_future()

    async def run() -> None:
        try:
            outcome.set_result(await runner.run(inp))
        except PaisError as exc:  # recorded in the session by the runner, or refused before it started
            logger.warning("the run of session %s resumed after approval failed: %s", paused.session_id, exc.message)
            outcome.set_result(exc)
        finally:
            if not outcome.done():
                outcome.set_result(PaisError("the resumed run was cancelled (the server is stopping)"))

    runner.in_background(run(), name=f"approval-resume-{paused.session_id}")
    return outcome
