"""Discovery: the A2A agent card, the OpenAI model list and the agent's tools."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from pais_core import KAOS_PROTOCOLS, AgentCard, ModelCard, ModelList, NotFoundError, Settings

from .._deps import RuntimeDep
from ..http._errors import error_responses
from ..protocols.a2a._card import build_card, public_base_url

__all__ = ["router"]

router = APIRouter()

_STARTED = int(time.time())


@router.get(
    "/.well-known/agent-card.json",
    responses={200: {"model": AgentCard, "description": "The agent card"}, **error_responses(500)},
)
@router.get("/.well-known/agent.json", include_in_schema=False)
async def agent_card(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """The A2A agent card (`agent.json` is the legacy path, where KAOS clients also read `supportedProtocols`)."""
    card = build_card(runtime.settings, public_base_url(request, runtime.settings), runtime.skills()).to_wire()
    if request.url.path.endswith("/agent.json"):
        card["supportedProtocols"] = list(KAOS_PROTOCOLS)
    return card


@router.get("/v1/models", responses=error_responses(401, 500))
async def models(runtime: RuntimeDep) -> ModelList:
    """The agent, listed as the one model this server offers."""
    return ModelList(data=[_model_card(runtime.settings)])


@router.get("/v1/models/{model_id}", responses=error_responses(401, 404, 500))
async def model(model_id: str, runtime: RuntimeDep) -> ModelCard:
    """The agent as a model, by its id (`AGENT_NAME`); 404 for any other id."""
    if model_id != runtime.settings.agent_name:
        raise NotFoundError(
            f"The model {model_id!r} does not exist; this server offers {runtime.settings.agent_name!r}"
        )
    return _model_card(runtime.settings)


def _model_card(settings: Settings) -> ModelCard:
    return ModelCard(id=settings.agent_name, created=_STARTED, description=settings.agent_description)


class ToolInfo(BaseModel):
    """One tool as the model sees it."""

    name: str
    description: str | None = None
    parameters_json_schema: dict[str, Any]


class ToolList(BaseModel):
    agent: str
    tools: list[ToolInfo]


@router.get("/tools", responses=error_responses(401, 500))
async def tools(runtime: RuntimeDep) -> ToolList:
    """Every tool the agent offers its model: its own, MCP tools and delegations (`kaos agent tools`)."""
    definitions = await runtime.runner.tool_definitions()
    return ToolList(
        agent=runtime.settings.agent_name,
        tools=[
            ToolInfo(name=d.name, description=d.description, parameters_json_schema=d.parameters_json_schema)
            for d in definitions
        ],
    )
