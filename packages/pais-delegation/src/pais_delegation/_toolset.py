"""`DelegationToolset`: one `delegate_to_<name>` tool per sub-agent, for any Pydantic AI agent."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from opentelemetry import metrics, trace
from pydantic import ConfigDict, Field, TypeAdapter, with_config
from pydantic_ai import ApprovalRequired, RunContext, ToolFailed
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, ToolReturn, ToolReturnPart
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool
from pydantic_core import SchemaValidator
from typing_extensions import TypedDict

from pais_core import CredentialProvider, Settings

from ._context import recent_context
from ._errors import DelegationError
from ._http import HttpPool
from ._paused import delegated_approvals, own_ids, paused_metadata, paused_task, resume_of
from ._remote import RemoteAgent
from ._scope import current_delegation_scope

__all__ = ["METADATA_KEY", "DelegationRecord", "DelegationToolset", "delegate_tool_name"]

TOOL_PREFIX = "delegate_to_"
_MAX_TOOL_NAME = 64
METADATA_KEY = "pais_delegation"


@with_config(ConfigDict(extra="forbid"))
class DelegateArgs(TypedDict):
    task: Annotated[
        str,
        Field(
            min_length=1,
            description="The task for the sub-agent, self-contained: say what you need and what it should return.",
        ),
    ]


@functools.cache
def _args_contract() -> tuple[dict[str, Any], SchemaValidator]:
    """The JSON schema and validator of every delegate tool's arguments, built on first use, not at import."""
    adapter: TypeAdapter[DelegateArgs] = TypeAdapter(DelegateArgs)
    return adapter.json_schema(), SchemaValidator(adapter.core_schema)


def delegate_tool_name(agent_name: str) -> str:
    """`delegate_to_<name>` with the name made a lower-case identifier (max 64 characters)."""
    ident = re.sub(r"[^0-9a-z_]+", "_", agent_name.lower()).strip("_") or "agent"
    return (TOOL_PREFIX + ident)[:_MAX_TOOL_NAME]


@dataclass(frozen=True, kw_only=True)
class DelegationRecord:
    """One delegation found in a run's messages (see `DelegationToolset.delegations`)."""

    agent: str
    tool_call_id: str
    task: str
    success: bool
    result: str
    metadata: dict[str, Any]


class DelegationToolset(AbstractToolset[Any]):
    """Tools that hand a task to a sub-agent and return its answer.

    Each `RemoteAgent` becomes a `delegate_to_<name>` tool taking `{"task": str}`, described by
    the agent's card (read when the toolset is entered). A call forwards the recent conversation,
    the session and the delegation depth from `delegation_scope()`; it is refused past `max_depth`.
    A failed delegation raises `ToolFailed`, so the model gets an error tool result (`outcome`
    `"failed"`) it can act on and the run goes on. A successful one returns the answer with
    `{"pais_delegation": {...}}` metadata on the `ToolReturnPart`. A sub-agent that pauses for
    approval of its own calls makes the call raise `ApprovalRequired` (see `_paused`): the run needs
    `DeferredToolRequests` among its output types, and resumes the call with the decisions.
    """

    def __init__(
        self,
        agents: Sequence[RemoteAgent],
        *,
        max_depth: int = 3,
        context_messages: int = 6,
        context_chars: int = 4000,
        id: str | None = None,
    ) -> None:
        self.agents = {delegate_tool_name(agent.name): agent for agent in agents}
        if len(self.agents) != len(agents):
            raise ValueError(f"sub-agent names collide once made tool names: {[a.name for a in agents]}")
        self.max_depth = max_depth
        self.context_messages = context_messages
        self.context_chars = context_chars
        self._id = id
        self._entered = 0
        self._enter_lock = asyncio.Lock()

    @classmethod
    def from_urls(
        cls,
        urls: dict[str, str],
        *,
        api_keys: dict[str, str] | None = None,
        timeout: float = 60.0,
        max_depth: int = 3,
        pool: HttpPool | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> DelegationToolset:
        """A toolset for `{name: base_url}` whose agents share one connection pool."""
        shared = pool or HttpPool()
        agents = [
            RemoteAgent(
                name,
                url,
                api_key=(api_keys or {}).get(name),
                timeout=timeout,
                pool=shared,
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
            )
            for name, url in urls.items()
        ]
        return cls(agents, max_depth=max_depth)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        pool: HttpPool | None = None,
        credentials: Mapping[str, CredentialProvider | None] | None = None,
    ) -> DelegationToolset:
        """The toolset for `AGENT_SUB_AGENTS` / `PEER_AGENTS` with `DELEGATION_*` limits.

        `credentials` gives, per sub-agent name, where its auth headers come from on each call.
        """
        shared = pool or HttpPool()
        agents = [
            RemoteAgent(
                spec.name,
                spec.url,
                card_url=spec.card_url,
                api_key=spec.api_key,
                timeout=settings.delegation_timeout_seconds,
                pool=shared,
                credentials=(credentials or {}).get(spec.name),
            )
            for spec in settings.sub_agents
        ]
        return cls(agents, max_depth=settings.delegation_max_depth, id="pais-delegation")

    @property
    def id(self) -> str | None:
        return self._id

    @property
    def label(self) -> str:
        return f"DelegationToolset({', '.join(a.name for a in self.agents.values())})"

    def agent_for_tool(self, tool_name: str) -> RemoteAgent | None:
        """The sub-agent behind a `delegate_to_<name>` tool of this toolset."""
        return self.agents.get(tool_name)

    async def refresh_cards(self, *, only_missing: bool = False) -> None:
        """Read (or refresh stale) agent cards of all sub-agents concurrently."""
        agents = [a for a in self.agents.values() if not (only_missing and a.card_attempted)]
        await asyncio.gather(*(agent.card() for agent in agents))

    async def __aenter__(self) -> DelegationToolset:
        async with self._enter_lock:
            if self._entered == 0:
                await self.refresh_cards()
            self._entered += 1
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        async with self._enter_lock:
            self._entered -= 1
            if self._entered == 0:
                pools = {id(a.pool): a.pool for a in self.agents.values()}
                await asyncio.gather(*(pool.aclose() for pool in pools.values()))
        return None

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        await self.refresh_cards(only_missing=True)
        return {name: self._tool(name, agent) for name, agent in self.agents.items()}

    def _tool(self, name: str, agent: RemoteAgent) -> ToolsetTool[Any]:
        card = agent.cached_card
        description = card.description if card is not None and card.description else ""
        if not description:
            description = f"Delegate a task to the sub-agent {agent.name!r} and get its answer."
        schema, validator = _args_contract()
        return ToolsetTool(
            toolset=self,
            tool_def=ToolDefinition(
                name=name,
                description=f"{description} (sub-agent {agent.name!r})",
                parameters_json_schema=schema,
            ),
            max_retries=1,
            args_validator=validator,
        )

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        agent = self.agents[name]
        scope = current_delegation_scope()
        max_depth = scope.max_depth if scope.max_depth is not None else self.max_depth
        if scope.depth + 1 > max_depth:
            raise ToolFailed(
                f"delegation to {agent.name} refused: the maximum delegation depth ({max_depth}) is reached "
                f"(this agent runs at depth {scope.depth}); answer without delegating"
            )
        resumed = resume_of(agent.name, ctx.tool_call_metadata) if ctx.tool_call_approved else None
        try:
            if resumed is not None:  # decisions on the sub-agent's pending calls: sent down on its task
                task_id, decisions = resumed
                result = await agent.decide(task_id, decisions, session_id=scope.session_id, depth=scope.depth)
            else:
                context = recent_context(ctx.messages, max_messages=self.context_messages, max_chars=self.context_chars)
                result = await agent.send(
                    tool_args["task"], context=context, session_id=scope.session_id, depth=scope.depth
                )
        except DelegationError as exc:
            raise ToolFailed(f"delegation to {agent.name} failed: {exc}") from exc
        if result.approvals and result.task_id is not None:
            raise ApprovalRequired(metadata=paused_metadata(agent.name, result.task_id, list(result.approvals)))
        return ToolReturn(return_value=result.text, metadata={METADATA_KEY: result.metadata()})

    async def deny_paused(
        self, metadata: Mapping[str, Any] | None, *, reason: str, session_id: str | None, depth: int = 0
    ) -> bool:
        """Deny every call a paused delegation awaits, when its caller drops the pause instead of resuming it.

        `metadata` is the delegate call's `DeferredToolRequests.metadata`; the sub-agent's task then
        resumes with the denials and ends. False when it is not a paused delegation of this toolset.

        Raises:
            DelegationError: the sub-agent could not take the denials.
        """
        approvals, paused = delegated_approvals(metadata), paused_task(metadata)
        agent = next((a for a in self.agents.values() if paused is not None and a.name == paused[0]), None)
        if approvals is None or paused is None or agent is None:
            return False
        denials = own_ids(agent.name, {a.id: {"approved": False, "reason": reason} for a in approvals})
        await agent.decide(paused[1], denials, session_id=session_id, depth=depth)
        return True

    def delegations(self, messages: Sequence[ModelMessage]) -> list[DelegationRecord]:
        """The delegations made by this toolset's tools in `messages`, in call order.

        A call counts once its return is in `messages`; success is the return's `outcome`.
        """
        calls: dict[str, ToolCallPart] = {}
        records: list[DelegationRecord] = []
        for message in messages:
            if isinstance(message, ModelResponse):
                calls.update(
                    (p.tool_call_id, p)
                    for p in message.parts
                    if isinstance(p, ToolCallPart) and p.tool_name in self.agents
                )
            else:
                for part in message.parts:
                    if isinstance(part, ToolReturnPart) and (call := calls.get(part.tool_call_id)) is not None:
                        args = call.args_as_dict()
                        metadata = _delegation_metadata(part.metadata)
                        records.append(
                            DelegationRecord(
                                agent=self.agents[call.tool_name].name,
                                tool_call_id=part.tool_call_id,
                                task=str(args.get("task", "")),
                                success=part.outcome == "success",
                                result=part.model_response_str(wrap_if_error=False),
                                metadata=metadata,
                            )
                        )
        return records


def _delegation_metadata(metadata: Any) -> dict[str, Any]:
    if isinstance(metadata, dict) and isinstance(found := cast(dict[str, Any], metadata).get(METADATA_KEY), dict):
        return dict(cast(dict[str, Any], found))
    return {}
