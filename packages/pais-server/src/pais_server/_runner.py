"""Runs one agent turn for a session: history in, events out, memory written atomically."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import CancellationToken, RunContext
from pydantic_ai.agent import AbstractAgent
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import Model
from pydantic_ai.models.test import TestModel
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.usage import RunUsage, UsageLimits

from pais_core import (
    BadRequestError,
    PaisError,
    Principal,
    Progress,
    SessionBusyError,
    Settings,
    Usage,
    current_principal,
    principal_scope,
)
from pais_delegation import delegation_scope
from pais_memory import Memory
from pais_telemetry import agent_capabilities, memory_operation, record_token_usage

from ._history import BoundedHistory, History
from ._run_errors import ServerBusyError, to_pais_error
from ._turn_events import TargetResolver, delegation_target, error_event, turn_events, user_event
from .auth import SessionAccess

__all__ = ["AgentRunner", "RunEvent", "RunInput", "RunResult", "TextDelta", "ToolProgress"]

logger = logging.getLogger("pais_server.runner")


@dataclass(frozen=True)
class RunInput:
    """One user turn: the prompt plus what the request itself says about the conversation."""

    session_id: str
    prompt: str
    request_history: list[ModelMessage] = field(default_factory=list[ModelMessage])
    system: str | None = None
    model_settings: ModelSettings | None = None
    depth: int = 0
    """Delegation depth of this run: 0 for a user's request, n for a request from an agent at depth n-1."""
    cancellation: CancellationToken | None = None
    principal: Principal | None = field(default_factory=current_principal)
    """Who asked: the verified caller current where the input was built (None for the static key)."""

    @property
    def delegated(self) -> bool:
        return self.depth > 0


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolProgress:
    progress: Progress


@dataclass(frozen=True)
class RunResult:
    output: str
    usage: Usage
    tool_calls: int = 0
    """Tool calls the run made (delegations included)."""


RunEvent = TextDelta | ToolProgress | RunResult


def _usage(usage: RunUsage) -> Usage:
    prompt, completion = usage.input_tokens, usage.output_tokens
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


@dataclass
class _Turn:
    """Per-run state between loading history and recording the result."""

    inp: RunInput
    kwargs: dict[str, Any]
    history: BoundedHistory
    step: int = 0


class AgentRunner:
    """Runs `agent` against `memory` with PAIS's limits; shared by chat and A2A."""

    def __init__(
        self,
        *,
        agent: AbstractAgent[Any, Any],
        memory: Memory,
        settings: Settings,
        model: Model | None = None,
        toolsets: Sequence[AbstractToolset[Any]] = (),
        instructions: str | None = None,
        target_for: TargetResolver = delegation_target,
        history: History | None = None,
    ) -> None:
        self.agent = agent
        self.memory = memory
        self.settings = settings
        self.access = SessionAccess(memory, settings.read_scope)
        self._model = model
        self._toolsets = list(toolsets)
        self._instructions = instructions
        self._target_for = target_for
        self.history = history or History(memory, settings)
        self._limits = UsageLimits(request_limit=settings.agentic_loop_max_steps)
        self._background: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Task[Any]] = set()
        self._active_runs = 0

    async def run(self, inp: RunInput) -> RunResult:
        """Run to completion and return the final answer."""
        async with self._turn(inp) as turn:
            result = await self.agent.run(inp.prompt, **turn.kwargs)
            return await self._finish(turn, result.new_messages(), result.output, result.usage)

    async def stream(self, inp: RunInput) -> AsyncGenerator[RunEvent]:
        """Run while yielding text deltas and tool progress as they happen; the last event is a `RunResult`."""
        async with self._turn(inp) as turn, self.agent.run_stream_events(inp.prompt, **turn.kwargs) as run:
            async for event in run:
                if isinstance(event, AgentRunResultEvent):
                    result = event.result
                    yield await self._finish(turn, result.new_messages(), result.output, result.usage)
                    return
                mapped = self._map_event(turn, event)
                if mapped is not None:
                    yield mapped

    def _map_event(self, turn: _Turn, event: object) -> RunEvent | None:
        if isinstance(event, PartStartEvent):
            if event.index == 0:
                turn.step += 1
            if isinstance(event.part, TextPart) and event.part.content:
                return TextDelta(event.part.content)
        elif isinstance(event, PartDeltaEvent):
            if isinstance(event.delta, TextPartDelta) and event.delta.content_delta:
                return TextDelta(event.delta.content_delta)
        elif isinstance(event, FunctionToolCallEvent):
            return self._progress(turn, event.part.tool_name, result=False, success=None)
        elif isinstance(event, FunctionToolResultEvent):
            part = event.part
            return self._progress(turn, part.tool_name or "", result=True, success=part.outcome == "success")
        return None

    def _progress(self, turn: _Turn, tool: str, *, result: bool, success: bool | None) -> ToolProgress:
        target = self._target_for(tool)
        if target is None:
            kind = "tool_result" if result else "tool_call"
        else:
            kind = "delegation_result" if result else "delegation"
        return ToolProgress(
            Progress(
                type=kind,
                step=max(turn.step, 1),
                max_steps=self.settings.agentic_loop_max_steps,
                tool=tool,
                target=target,
                success=success,
            )
        )

    @asynccontextmanager
    async def _turn(self, inp: RunInput) -> AsyncGenerator[_Turn]:
        settings = self.settings
        if settings.max_concurrent_runs and self._active_runs >= settings.max_concurrent_runs:
            raise ServerBusyError(
                f"this replica is running MAX_CONCURRENT_RUNS={settings.max_concurrent_runs} agent runs; retry shortly"
            )
        await self.access.claim(inp.session_id, inp.principal)  # another's session: 404, nothing recorded
        self._active_runs += 1
        task = asyncio.current_task()
        assert task is not None  # a coroutine run by asyncio always has one
        self._running.add(task)
        try:
            if inp.depth > settings.delegation_max_depth:
                raise BadRequestError(
                    f"delegation depth {inp.depth} exceeds DELEGATION_MAX_DEPTH={settings.delegation_max_depth}"
                )
            async with (
                asyncio.timeout(settings.request_timeout_seconds),
                self.memory.session_lock(inp.session_id, timeout=settings.session_lock_timeout_seconds),
            ):
                with memory_operation("load_history", backend=settings.memory_type):
                    bounded = await self.history.load(
                        inp.session_id,
                        texts=(inp.prompt, settings.instructions, inp.system),
                        messages=inp.request_history,
                    )
                stored = bounded.messages
                # a delegated request carries the caller's fresh context: it adds to the sub-session's memory
                history = [*stored, *inp.request_history] if inp.delegated else stored or inp.request_history
                turn = _Turn(inp=inp, kwargs=self._run_kwargs(inp, history), history=bounded)
                with (
                    principal_scope(inp.principal),
                    delegation_scope(
                        session_id=inp.session_id, depth=inp.depth, max_depth=settings.delegation_max_depth
                    ),
                ):
                    yield turn
        except SessionBusyError:
            raise  # the run never started; the session belongs to another request
        except PaisError as exc:
            await self._record_failure(inp, exc)
            raise
        except asyncio.CancelledError:
            self._record_in_background(inp, PaisError("the request was cancelled before the run finished"))
            raise
        except Exception as exc:
            error = to_pais_error(
                exc, max_steps=settings.agentic_loop_max_steps, request_timeout=settings.request_timeout_seconds
            )
            if type(error) is PaisError:
                logger.exception("agent run failed")
            await self._record_failure(inp, error)
            raise error from exc
        finally:
            self._active_runs -= 1
            self._running.discard(task)

    def _run_kwargs(self, inp: RunInput, history: list[ModelMessage]) -> dict[str, Any]:
        instructions = "\n\n".join(text for text in (self._instructions, inp.system) if text) or None
        kwargs: dict[str, Any] = {
            "message_history": history or None,
            "usage_limits": self._limits,
            "instructions": instructions,
            "model_settings": inp.model_settings,
            # an unnamed agent would otherwise search the calling frames for its name on every run
            "infer_name": False,
        }
        if self._model is not None:
            kwargs["model"] = self._model
        if self._toolsets:
            kwargs["toolsets"] = self._toolsets
        if inp.cancellation is not None:
            kwargs["cancellation_token"] = inp.cancellation
        if capabilities := agent_capabilities(self.agent):
            kwargs["capabilities"] = capabilities  # agent run, model request and tool spans
        return kwargs

    async def _finish(self, turn: _Turn, messages: list[ModelMessage], output: Any, usage: RunUsage) -> RunResult:
        if "capabilities" not in turn.kwargs:  # the run was not instrumented (telemetry off, or trace not sampled)
            record_token_usage(self.agent, messages)
        text = output if isinstance(output, str) else str(output)
        result = RunResult(output=text, usage=_usage(usage), tool_calls=usage.tool_calls)
        events = [
            user_event(turn.inp.prompt, delegated=turn.inp.delegated),
            *turn_events(messages, text, result.usage.model_dump(), target_for=self._target_for),
        ]
        with memory_operation("append", backend=self.settings.memory_type):
            await self.memory.append(turn.inp.session_id, events, messages)
        self.history.after_turn(turn.inp.session_id, turn.history)
        return result

    async def tool_definitions(self) -> list[ToolDefinition]:
        """Every tool a run offers the model: the agent's own, then delegation and MCP tools.

        A toolset that cannot list its tools now (an MCP server down) is left out with a warning.
        """
        model = self._model or self.agent.model
        ctx = RunContext[Any](deps=None, model=model if isinstance(model, Model) else TestModel(), usage=RunUsage())
        definitions: list[ToolDefinition] = []
        for toolset in [*self.agent.toolsets, *self._toolsets]:
            try:
                tools = await toolset.get_tools(ctx)
            except Exception as exc:
                logger.warning("cannot list the tools of %s: %s", toolset.label, exc)
                continue
            definitions.extend(tool.tool_def for tool in tools.values())
        return definitions

    async def drain(self) -> None:
        """At shutdown: cancel the runs still going (past the grace period), wait until every cut-off
        turn has its user message and error event in memory, then for the rest of the background work
        (failure records, detached streams, summaries)."""
        running = [task for task in self._running if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=5.0)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.history.drain()

    async def _record_failure(self, inp: RunInput, error: PaisError) -> None:
        events = [user_event(inp.prompt, delegated=inp.delegated), error_event(error.code, error.message)]
        try:
            await self.memory.append(inp.session_id, events)
        except PaisError:
            logger.warning("could not record the failed turn of session %s in memory", inp.session_id)

    def in_background(self, work: Coroutine[Any, Any, None], *, name: str | None = None) -> None:
        """Run `work` beyond the request that started it; `drain` waits for it at shutdown."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _record_in_background(self, inp: RunInput, error: PaisError) -> None:
        self.in_background(self._record_failure(inp, error))
