"""The A2A agent card PAIS serves for its agent."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic_ai.agent import AbstractAgent
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset
from starlette.requests import Request

from pais_core import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, Settings, __version__
from pais_delegation import DelegationToolset

__all__ = [
    "IDENTITY_EXTENSION",
    "SkillSource",
    "agent_tool_skills",
    "build_card",
    "delegate_skills",
    "public_base_url",
]

IDENTITY_EXTENSION = "urn:pais:extension:agent-identity:v1"
"""Card extension (`capabilities.extensions`) whose `params.identity` is who the agent is when it acts
as itself (`AGENT_AUTH_IDENTITY`, else `AGENT_NAME`); optional, clients may ignore it."""

SkillSource = Callable[[], Iterable[AgentSkill]]


def public_base_url(request: Request, settings: Settings) -> str:
    """`AGENT_URL`, else the URL the client used, honouring `X-Forwarded-*` headers from a proxy."""
    if settings.agent_url:
        return settings.agent_url.rstrip("/")
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host", headers.get("host", request.url.netloc)).split(",")[0].strip()
    prefix = headers.get("x-forwarded-prefix", request.scope.get("root_path", "")).rstrip("/")
    return f"{proto}://{host}{prefix}"


def agent_tool_skills(
    agent: AbstractAgent[Any, Any], extra_toolsets: Iterable[AbstractToolset[Any]] = ()
) -> list[AgentSkill]:
    """One skill per function tool registered on the agent (or passed alongside it)."""
    skills: list[AgentSkill] = []
    for toolset in [*agent.toolsets, *extra_toolsets]:
        if isinstance(toolset, FunctionToolset):
            for name, tool in toolset.tools.items():
                skills.append(AgentSkill(id=name, name=name, description=tool.description or name, tags=["tool"]))
    return skills


def delegate_skills(delegation: DelegationToolset) -> list[AgentSkill]:
    """One skill per sub-agent this agent can delegate to, described by the sub-agent's card."""
    skills: list[AgentSkill] = []
    for tool_name, remote in delegation.agents.items():
        card = remote.cached_card
        description = card.description if card is not None and card.description else f"Delegates to {remote.name}"
        skills.append(
            AgentSkill(id=tool_name, name=tool_name, description=description, tags=["delegation", remote.name])
        )
    return skills


def build_card(settings: Settings, base_url: str, skills: Iterable[AgentSkill]) -> AgentCard:
    """The card for this agent served from `base_url`."""
    # JSON-RPC at `<base>/` in both dialects: 1.0 clients (a2a-sdk 1.x) pick the 1.0 entry, 0.3 clients the other
    current = AgentInterface(url=f"{base_url}/", protocolVersion="1.0")
    legacy = AgentInterface(url=f"{base_url}/")
    security: dict[str, Any] = {}
    if settings.agent_api_key or settings.auth_jwks_url:
        # One scheme in both shapes: 0.3 (`type`/`scheme`, `security`) and 1.0 (`httpAuthSecurityScheme`,
        # `securityRequirements`); each client reads its own fields and ignores the other's.
        scheme = _bearer_scheme(settings)
        v1_scheme = {key: value for key, value in scheme.items() if key != "type"}
        security = {
            "securitySchemes": {"bearer": {**scheme, "httpAuthSecurityScheme": v1_scheme}},
            "security": [{"bearer": []}],
            "securityRequirements": [{"schemes": {"bearer": {"list": []}}}],
        }
    # A2A requires at least one skill: an agent without tools or delegates offers the conversation itself.
    listed = list(skills) or [
        AgentSkill(id="chat", name=settings.agent_name, description=settings.agent_description, tags=["chat"])
    ]
    return AgentCard.model_validate(
        {
            "name": settings.agent_name,
            "description": settings.agent_description,
            "url": f"{base_url}/",
            "version": __version__,
            "capabilities": AgentCapabilities.model_validate(
                {
                    "streaming": True,
                    "pushNotifications": True,
                    "extensions": [
                        {
                            "uri": IDENTITY_EXTENSION,
                            "description": "the agent's own identity (the actor of its outbound calls)",
                            "required": False,
                            "params": {"identity": settings.agent_identity},
                        }
                    ],
                }
            ),
            "skills": listed,
            "additionalInterfaces": [legacy],
            "supportedInterfaces": [current, legacy],
            **security,
        }
    )


def _bearer_scheme(settings: Settings) -> dict[str, Any]:
    """The bearer scheme: the static key, JWTs of `AUTH_ISSUER`, or either."""
    scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
    if settings.auth_jwks_url:
        scheme["bearerFormat"] = "JWT"
        accepted = f"a JWT issued by {settings.auth_issuer} for audience {settings.auth_audience}"
        scheme["description"] = f"{accepted}, or the agent's API key" if settings.agent_api_key else accepted
    return scheme
