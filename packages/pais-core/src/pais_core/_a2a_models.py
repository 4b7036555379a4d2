"""A2A agent card wire model (served at `/.well-known/agent-card.json`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AgentCapabilities", "AgentCard", "AgentInterface", "AgentSkill"]

A2A_PROTOCOL_VERSION = "0.3.0"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class AgentSkill(_Wire):
    id: str
    name: str
    description: str
    tags: list[str] = Field(default_factory=list[str])
    examples: list[str] | None = None


class AgentCapabilities(_Wire):
    streaming: bool = True
    push_notifications: bool = Field(default=False, alias="pushNotifications")
    state_transition_history: bool = Field(default=False, alias="stateTransitionHistory")


class AgentInterface(_Wire):
    url: str
    transport: str = "JSONRPC"
    protocol_binding: str = Field(default="JSONRPC", alias="protocolBinding")
    protocol_version: str = Field(default=A2A_PROTOCOL_VERSION, alias="protocolVersion")


class AgentCard(_Wire):
    """A2A agent card; unknown fields are kept so newer cards round-trip."""

    name: str
    description: str
    url: str
    version: str
    protocol_version: str = Field(default=A2A_PROTOCOL_VERSION, alias="protocolVersion")
    preferred_transport: str = Field(default="JSONRPC", alias="preferredTransport")
    capabilities: AgentCapabilities = Field(default_factory=AgentCapabilities)
    default_input_modes: list[str] = Field(default_factory=lambda: ["text/plain"], alias="defaultInputModes")
    default_output_modes: list[str] = Field(default_factory=lambda: ["text/plain"], alias="defaultOutputModes")
    skills: list[AgentSkill] = Field(default_factory=list[AgentSkill])
    additional_interfaces: list[AgentInterface] = Field(
        default_factory=list[AgentInterface], alias="additionalInterfaces"
    )
    supported_interfaces: list[AgentInterface] = Field(
        default_factory=list[AgentInterface], alias="supportedInterfaces"
    )
    security_schemes: dict[str, Any] | None = Field(default=None, alias="securitySchemes")
    security: list[dict[str, list[str]]] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The card as JSON-ready camelCase data, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
