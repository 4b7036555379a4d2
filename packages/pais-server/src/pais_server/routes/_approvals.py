"""`GET /approvals` lists the tool calls awaiting a person's approval; `POST /approvals/{id}` decides one."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response

from pais_core import PaisError, Task, parts_text, principal_scope

from .._deps import RuntimeDep, runtime_of
from ..auth import ALL, NOTHING
from ..http._errors import error_responses
from ..protocols.a2a._tasks import A2AError, A2ATasks
from ..runtime._approval_decisions import decide, resume
from ..runtime._approvals import Decision
from ..runtime._deferred import PausedRun, peek_paused_run
from ..runtime._runner import RunResult

__all__ = ["router"]

router = APIRouter()
logger = logging.getLogger("pais_server.approvals")

SessionId = Annotated[str, Query(min_length=1, max_length=300)]


@router.get("/approvals", responses=error_responses(400, 401, 404, 500, 503))
async def approvals(
    runtime: RuntimeDep,
    session_id: SessionId | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Calls awaiting approval: of one session, or (without `session_id`) of a page of the paused runs
    awaiting approval in the sessions the caller may list (the memory's index of them, soonest expiry
    first); follow `next_cursor` for the next page of paused runs.

    `agent` is null for this agent's own calls, else the path of the sub-agent that runs the call.
    """
    memory, access = runtime.memory, runtime.runner.access
    page_cursor: str | None = None
    if session_id is not None:
        await access.check_read(session_id)
        sessions = [session_id]
    elif (owner := access.listing_owner()) == NOTHING:
        sessions = []
    else:
        page = await memory.list_paused_runs(cursor=cursor, limit=limit, owner=None if owner == ALL else owner)
        sessions, page_cursor = page.items, page.next_cursor
    paused = await asyncio.gather(*(peek_paused_run(memory, sid) for sid in sessions))
    listed = [approval for run in paused if run is not None for approval in _awaiting(run)]
    body: dict[str, Any] = {"agent": runtime.settings.agent_name, "approvals": listed}
    return {**body, "session_id": session_id} if session_id is not None else {**body, "next_cursor": page_cursor}


def _awaiting(paused: PausedRun) -> list[dict[str, Any]]:
    common = {
        "session_id": paused.session_id,
        "requested_by": paused.principal,
        "requested_at": paused.paused_at,
        "deadline": paused.approval_deadline,
        "expired": paused.expired(),
    }
    return [
        {"id": call.id, "tool": call.tool, "arguments": call.arguments, "agent": call.agent, **common}
        for call in paused.approvals
        if call.id not in paused.decisions
    ]


@router.post(
    "/approvals/{call_id}",
    responses={
        202: {"description": "The decision resumed the run, which has not answered yet (within `wait`)"},
        **error_responses(400, 401, 404, 409, 500, 503),
    },
)
async def decide_approval(
    call_id: Annotated[str, Path(min_length=1, max_length=300)],
    decision: Decision,
    request: Request,
    response: Response,
    session_id: SessionId,
    wait: Annotated[float, Query(ge=0, le=300)] = 0,
) -> dict[str, Any]:
    """Decide a call awaiting approval. Once every call of its paused run is decided, the run resumes in the
    background (202; its answer goes to the session's memory, and to its A2A task if one awaits it); with
    `wait` seconds, the answer is awaited that long and returned (200). 409 when the call was decided already."""
    runtime = runtime_of(request)
    decided = await decide(runtime.runner, session_id, call_id, approved=decision.approved, reason=decision.reason)
    body: dict[str, Any] = {
        "agent": runtime.settings.agent_name,
        "session_id": session_id,
        "id": call_id,
        "tool": decided.call.tool,
        "approved": decided.approved,
        "timed_out": decided.timed_out,
        "awaiting": decided.awaiting,
        "events": f"/memory/events?{urlencode({'session_id': session_id})}",
    }
    if decided.awaiting:
        return {**body, "status": "recorded"}
    tasks: A2ATasks = request.app.state.a2a_tasks
    with principal_scope(decided.acting_for):  # an operator's decision resumes the agent's own run as the agent
        try:
            task_run = await tasks.resume_decided(session_id)
        except A2AError as exc:  # an A2A message with decisions resumed the task first
            logger.info("the A2A task of session %s resumed elsewhere: %s", session_id, exc.message)
            response.status_code = 202
            return {**body, "status": "resumed"}
        if task_run is not None:
            body["task_id"] = task_run.task.id
        run: asyncio.Future[Any] = task_run.future if task_run is not None else resume(runtime.runner, decided.paused)
    settled: RunResult | PaisError | Task | None = None
    if wait:
        done, _ = await asyncio.wait({run}, timeout=wait)  # a timeout leaves the run going
        settled = run.result() if done else None
    if settled is None:
        response.status_code = 202
        return {**body, "status": "resumed"}
    return {**body, **_outcome(settled)}


def _outcome(outcome: RunResult | PaisError | Task) -> dict[str, Any]:
    if isinstance(outcome, Task):
        return _task_outcome(outcome)
    if isinstance(outcome, PaisError):
        return {"status": "failed", "error": {"code": outcome.code, "message": outcome.message}}
    if outcome.pending_approvals or outcome.tool_calls:
        return {"status": "paused", "output": outcome.output, "pending_approvals": list(outcome.pending_approvals)}
    return {"status": "completed", "output": outcome.output, "finish_reason": outcome.finish_reason}


def _task_outcome(task: Task) -> dict[str, Any]:
    state = task.status.state
    if state == "completed":
        output = "".join(parts_text(artifact.parts) for artifact in task.artifacts or [])
        return {"status": "completed", "output": output}
    if state == "input-required":
        return {"status": "paused"}
    message = task.status.message
    return {"status": "failed", "error": {"code": state, "message": parts_text(message.parts) if message else state}}
