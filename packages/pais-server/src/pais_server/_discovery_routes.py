"""Discovery: the A2A agent card and the OpenAI model list."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from pais_core import ModelCard, ModelList

from ._card import build_card, public_base_url
from ._deps import RuntimeDep

__all__ = ["router"]

router = APIRouter()

_STARTED = int(time.time())


@router.get("/.well-known/agent-card.json")
@router.get("/.well-known/agent.json", include_in_schema=False)
async def agent_card(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """The A2A agent card (`agent.json` is the legacy path)."""
    card = build_card(runtime.settings, public_base_url(request, runtime.settings), runtime.skills())
    return card.to_wire()


@router.get("/v1/models")
async def models(runtime: RuntimeDep) -> ModelList:
    """The agent, listed as the one model this server offers."""
    settings = runtime.settings
    return ModelList(data=[ModelCard(id=settings.agent_name, created=_STARTED, description=settings.agent_description)])
