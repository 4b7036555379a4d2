"""Kubernetes probes: `/health` (liveness) and `/ready` (readiness)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from pais_core import redact_urls

from .._deps import RuntimeDep

__all__ = ["router"]

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is serving."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        200: {"description": "Every dependency answers"},
        503: {"description": "Draining for shutdown, or a dependency is down (named in `failed`)"},
    },
)
async def ready(runtime: RuntimeDep) -> Response:
    """Readiness: 200 when every dependency answers, else 503 naming the failing ones.

    Open without a key: every URL in it (settings, dependency errors) has its credentials redacted.
    """
    if runtime.readiness.draining:
        body = {"status": "shutting_down", "failed": ["server"], "checks": {}}
        return JSONResponse(body, status_code=503)
    checks = await runtime.readiness.check()
    failed = [name for name, check in checks.items() if not check.ok]
    body: dict[str, Any] = {
        "status": "ready" if not failed else "unavailable",
        "agent": runtime.settings.agent_name,
        "checks": {name: {"ok": c.ok, **({"detail": c.detail} if c.detail else {})} for name, c in checks.items()},
    }
    details: dict[str, Any] = {}
    if runtime.tool_mode is not None:
        details["tool_mode"] = runtime.tool_mode.details()
    if runtime.mcp is not None:  # a degraded MCP server is reported, not fatal: the agent still serves
        await runtime.mcp.probe()
        details["mcp_servers"] = [status.model_dump() for status in runtime.mcp.status()]
    if details:
        body["details"] = details
    if failed:
        body["failed"] = failed
        body["error"] = {
            "message": "; ".join(f"{name}: {checks[name].detail}" for name in failed),
            "type": "service_unavailable",
            "code": "dependency_unavailable",
        }
    return Response(
        redact_urls(json.dumps(body, ensure_ascii=False, separators=(",", ":"))),
        status_code=503 if failed else 200,
        media_type="application/json",
    )
