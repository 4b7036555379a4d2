"""Kubernetes probes: `/health` (liveness) and `/ready` (readiness)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse

from ._deps import RuntimeDep

__all__ = ["router"]

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is serving."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: 200 when every dependency answers, else 503 naming the failing ones."""
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
    if failed:
        body["failed"] = failed
        body["error"] = {
            "message": "; ".join(f"{name}: {checks[name].detail}" for name in failed),
            "type": "service_unavailable",
            "code": "dependency_unavailable",
        }
    return JSONResponse(body, status_code=503 if failed else 200)
