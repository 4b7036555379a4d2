"""`GET /approvals`: the tool calls of a session awaiting a person's approval."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ._deferred import peek_paused_run
from ._deps import RuntimeDep
from ._http_errors import error_responses

__all__ = ["router"]

router = APIRouter()


@router.get("/approvals", responses=error_responses(400, 401, 404, 500, 503))
async def approvals(runtime: RuntimeDep, session_id: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
    """The session's calls awaiting approval (decide with `tool` messages on the session); [] when none.

    `agent` is null for this agent's own calls, else the path of the sub-agent that runs the call.
    """
    await runtime.runner.access.check_read(session_id)
    paused = await peek_paused_run(runtime.memory, session_id)
    listed: list[dict[str, Any]] = []
    if paused is not None:
        common = {
            "requested_by": paused.principal,
            "requested_at": paused.paused_at,
            "deadline": paused.approval_deadline,
            "expired": paused.expired(),
        }
        listed = [
            {"id": call.id, "tool": call.tool, "arguments": call.arguments, "agent": call.agent, **common}
            for call in paused.approvals
        ]
    return {"agent": runtime.settings.agent_name, "session_id": session_id, "approvals": listed}
