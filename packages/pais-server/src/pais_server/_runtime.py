"""Everything a running server holds: built in the lifespan, closed at shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from pydantic_ai import Agent
from pydantic_ai.agent import AbstractAgent

from pais_core import AgentSkill, Settings
from pais_delegation import DelegationToolset
from pais_memory import Memory, memory_from_settings

from .auth import Credentials
from .models._factory import ModelHandle, model_from_settings
from .protocols.a2a._card import SkillSource, agent_tool_skills, delegate_skills
from .routes._readiness import Readiness, model_api_probe
from .runtime._history import History
from .runtime._runner import AgentRunner
from .runtime._summariser import summariser_for
from .runtime._turn_events import TargetResolver, delegation_target
from .tools._mode import ToolModeDecision, apply_tool_mode, resolve_tool_mode

if TYPE_CHECKING:
    from .tools._mcp import McpManager

__all__ = ["Runtime", "open_runtime"]

logger = logging.getLogger("pais_server")


@dataclass
class Runtime:
    """The agent, its memory and its clients for one app instance."""

    settings: Settings
    agent: AbstractAgent[Any, Any]
    memory: Memory
    runner: AgentRunner
    readiness: Readiness
    skill_sources: list[SkillSource] = field(default_factory=list[SkillSource])
    tool_mode: ToolModeDecision | None = None
    """How tools reach the environment's model (None for a custom agent with its own model)."""
    mcp: McpManager | None = None
    """The MCP servers of MCP_SERVERS, with `status()` per server (None without any)."""

    def skills(self) -> list[AgentSkill]:
        return [skill for source in self.skill_sources for skill in source()]


@asynccontextmanager
async def open_runtime(settings: Settings, agent: AbstractAgent[Any, Any] | None) -> AsyncGenerator[Runtime]:
    """Build the runtime for `agent` (or the environment's agent) and close it afterwards."""
    handle: ModelHandle | None = None
    custom = agent is not None
    tool_mode: ToolModeDecision | None = None
    if agent is None or agent.model is None:
        handle = model_from_settings(settings)
        tool_mode = await resolve_tool_mode(settings, handle.model, timeout=min(settings.model_timeout_seconds, 10.0))
        handle.model = apply_tool_mode(handle.model, tool_mode)
    if agent is None:
        assert handle is not None
        agent = Agent(handle.model, instructions=settings.instructions, name=settings.agent_name)
    memory = memory_from_settings(settings)
    credentials = Credentials.from_settings(settings)  # None without identity settings: no client is opened
    delegation = (
        DelegationToolset.from_settings(
            settings, credentials=credentials and credentials.providers(settings.sub_agents)
        )
        if settings.sub_agents
        else None
    )
    mcp = _mcp_manager(settings, credentials)
    probe_client: httpx.AsyncClient | None = None  # only with a model API to probe: it costs a TLS context
    readiness = Readiness()
    readiness.add("memory", lambda: _memory_probe(memory))
    if handle is not None and handle.base_url is not None:
        probe_client = httpx.AsyncClient(timeout=2.0)
        readiness.add("model_api", model_api_probe(probe_client, handle.base_url))
    summariser, summary_handle = summariser_for(settings, handle, agent)
    runner = AgentRunner(
        agent=agent,
        memory=memory,
        settings=settings,
        model=handle.model if custom and handle is not None else None,
        instructions=settings.added_instructions if custom else None,
        toolsets=[*([delegation] if delegation is not None else []), *(mcp.toolsets if mcp is not None else [])],
        target_for=_target_resolver(delegation),
        history=History(memory, settings, summariser),
    )
    runtime = Runtime(
        settings=settings,
        agent=agent,
        memory=memory,
        runner=runner,
        readiness=readiness,
        tool_mode=tool_mode,
        mcp=mcp,
    )
    runtime.skill_sources.append(lambda: agent_tool_skills(runner.agent))
    if delegation is not None:
        runtime.skill_sources.append(lambda: delegate_skills(delegation))
    if mcp is not None:
        runtime.skill_sources.append(mcp.skills)
    logger.info(
        "agent %s ready to serve (memory=%s, model=%s)",
        settings.agent_name,
        settings.memory_type,
        handle.model.model_name if handle is not None else "agent's own",
    )
    try:
        async with AsyncExitStack() as stack:
            if delegation is not None:
                await stack.enter_async_context(delegation)
            if mcp is not None:
                stack.push_async_callback(mcp.close)
                await mcp.start()
            yield runtime
            await runner.drain()
    finally:
        if credentials is not None:
            await credentials.aclose()
        if probe_client is not None:
            await probe_client.aclose()
        await memory.close()
        for owned in (handle, summary_handle):
            if owned is not None:
                await owned.aclose()


def _mcp_manager(settings: Settings, credentials: Credentials | None) -> McpManager | None:
    """The MCP servers of the environment; the `mcp` extra is only imported when there are some."""
    if not settings.mcp_servers:
        return None
    from .tools._mcp import McpManager

    return McpManager(settings, credentials=credentials.providers(settings.mcp_servers) if credentials else None)


async def _memory_probe(memory: Memory) -> str | None:
    await memory.ping()
    return None


def _target_resolver(delegation: DelegationToolset | None) -> TargetResolver:
    """Sub-agent names (as configured, e.g. `worker-a`) for this server's delegation tools."""
    if delegation is None:
        return delegation_target

    def target(tool_name: str) -> str | None:
        agent = delegation.agent_for_tool(tool_name)
        return agent.name if agent is not None else None

    return target
