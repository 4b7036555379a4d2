"""Runs one agent turn for a session: history in, events out, memory written atomically."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic_ai import CancellationToken, DeferredToolRequests, DeferredToolResults, RunContext, ToolDenied
from pydantic_ai.agent import AbstractAgent, AgentRunResult
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import Model
from pydantic_ai.models.test import TestModel
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.settings import ModelSettings, ToolChoice
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset
from pydantic_ai.usage import RunUsage, UsageLimits
from pydantic_core import to_json

from pais_core import (
    BadRequestError,
    PaisError,
    Principal,
    Progress,
    SessionBusyError,
    Settings,
    ToolCall,
    Usage,
    current_principal,
    principal_scope,
)
from pais_delegation import DelegationError, DelegationToolset, delegation_scope
from pais_memory import Memory
from pais_telemetry import agent_capabilities, memory_operation, record_token_usage

from ..auth import SessionAccess
from ._approvals import (
    TIMED_OUT_MESSAGE,
    ApprovalPolicy,
    approval_decided,
    approval_patterns,
    approval_requested,
)
from ._deferred import (
    FirstStepToolChoice,
    PausedRun,
    approval_decisions,
    client_toolset,
    deferred_results,
    pending_calls,
    save_paused_run,
    take_paused_run,
)
from ._history import BoundedHistory, History
from ._run_errors import ServerBusyError, to_pais_error
from ._structured_output import StructuredOutput, output_spec
from ._turn_events import TargetResolver, delegation_target, error_event, turn_events, user_event

__all__ = ["AgentRunner", "FinishReason", "RunEvent", "RunInput", "RunResult", "TextDelta", "ToolProgress"]

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
    output: StructuredOutput | None = None
    """JSON the answer must be (OpenAI `response_format`); None for text."""
    client_tools: Sequence[ToolDefinition] = ()
    """Tools the client runs itself: calling one pauses the run (see `_deferred`)."""
    tool_choice: ToolChoice = None
    """A tool choice forced on the run's first model request (`required`, or a list of tool names)."""
    tool_results: Mapping[str, str] | None = None
    """Answers to client tool calls (`tool_call_id` -> result): this turn resumes a paused run."""

    @property
    def delegated(self) -> bool:
        return self.depth > 0


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolProgress:
    progress: Progress


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True)
class RunResult:
    output: str
    usage: Usage | None
    """The model API's token counts for the run; None when it reported none (some servers stream none)."""
    finish_reason: FinishReason = "stop"
    """Why the last model response ended, as OpenAI names it."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The calls the run paused on (`finish_reason` `tool_calls`): client tool calls and calls awaiting approval."""
    pending_approvals: tuple[str, ...] = ()
    """The ids of the `tool_calls` that await a person's approval rather than the client's result."""
    approval_agents: Mapping[str, str] = field(default_factory=dict[str, str])
    """The agent path (`worker-a/worker-b`) of each pending approval a sub-agent surfaced through a delegation."""
    tool_call_count: int = 0
    """Tool calls the run made (delegations included)."""


RunEvent = TextDelta | ToolProgress | RunResult


def _usage(usage: RunUsage) -> Usage | None:
    prompt, completion = usage.input_tokens, usage.output_tokens
    if usage.requests and not prompt and not completion:
        return None  # the model API counted nothing: unknown, not zero
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _finish_reason(messages: Sequence[ModelMessage]) -> FinishReason:
    """The OpenAI finish reason of the run's last model response."""
    last = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
    reason = last.finish_reason if last is not None else None
    if reason == "length" or reason == "content_filter":
        return reason
    return "stop"


def _response_text(messages: Sequence[ModelMessage]) -> str:
    last = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
    return "" if last is None else "".join(p.content for p in last.parts if isinstance(p, TextPart))


def _answers_calls(history: Sequence[ModelMessage], answers: Mapping[str, str]) -> bool:
    """Whether `history` ends with results answering calls of its last model response."""
    last = next((m for m in reversed(history) if isinstance(m, ModelResponse)), None)
    called = {part.tool_call_id for part in last.tool_calls} if last is not None else set[str]()
    return bool(answers) and not isinstance(history[-1], ModelResponse) and set(answers) <= called


def _requires_approval(toolsets: Sequence[AbstractToolset[Any]]) -> bool:
    """Whether a tool is declared with `requires_approval=True`."""
    return any(
        tool.requires_approval
        for toolset in toolsets
        if isinstance(toolset, FunctionToolset)
        for tool in toolset.tools.values()
    )


class _Rejected(Exception):
    """A turn refused before its run started (bad tool results); carries the error to answer with."""

    def __init__(self, error: BadRequestError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class _Turn:
    """Per-run state between loading history and recording the result."""

    inp: RunInput
    kwargs: dict[str, Any]
    prompt: str | None
    """What the agent is run with: None when the turn continues from tool results."""
    user_prompt: str
    """The turn's user prompt, for memory."""
    client_tools: list[ToolDefinition]
    history: BoundedHistory
    """The bounded history the turn was loaded with (the summariser looks at it afterwards)."""
    turn_start: int | None = None
    """Where this turn's messages start in the run's messages (None: the run's new messages)."""
    instrumented: bool = False
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
        self.access = SessionAccess(memory, settings.read_scope, agent=settings.agent_identity)
        self._model = model
        self._toolsets = list(toolsets)
        self._instructions = instructions
        self._target_for = target_for
        self.history = history or History(memory, settings)
        self._limits = UsageLimits(request_limit=settings.agentic_loop_max_steps)
        self._background: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Task[Any]] = set()
        self._active_runs = 0
        patterns = approval_patterns(settings.tools_require_approval)
        self._approval_policy = ApprovalPolicy(patterns) if patterns else None
        every = [*agent.toolsets, *toolsets]
        self._delegations = [toolset for toolset in every if isinstance(toolset, DelegationToolset)]
        # a sub-agent's call awaiting approval pauses the delegation that reached it
        self._approvals = bool(patterns) or bool(self._delegations) or _requires_approval(every)
        """Whether a run may pause for approval: its output then admits `DeferredToolRequests`."""

    async def run(self, inp: RunInput) -> RunResult:
        """Run to completion and return the final answer."""
        async with self._turn(inp) as turn:
            result = await self.agent.run(turn.prompt, **turn.kwargs)
            return await self._finish(turn, result)

    async def stream(self, inp: RunInput) -> AsyncGenerator[RunEvent]:
        """Run while yielding text deltas and tool progress as they happen; the last event is a `RunResult`.

        Structured output arrives as one text delta once validated: the model's raw text may not be
        the JSON (prompted output may fence it, a retry may replace it).
        """
        async with self._turn(inp) as turn, self.agent.run_stream_events(turn.prompt, **turn.kwargs) as run:
            async for event in run:
                if isinstance(event, AgentRunResultEvent):
                    finished = await self._finish(turn, event.result)
                    if inp.output is not None and finished.output:
                        yield TextDelta(finished.output)
                    yield finished
                    return
                mapped = self._map_event(turn, event)
                if mapped is not None and not (inp.output is not None and isinstance(mapped, TextDelta)):
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
            if not any(event.part.tool_name == tool.name for tool in turn.client_tools):
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
                try:
                    turn = await self._prepare(inp, history, bounded)
                except BadRequestError as exc:
                    raise _Rejected(exc) from exc
                with (
                    principal_scope(inp.principal),
                    delegation_scope(
                        session_id=inp.session_id, depth=inp.depth, max_depth=settings.delegation_max_depth
                    ),
                ):
                    yield turn
        except SessionBusyError:
            raise  # the run never started; the session belongs to another request
        except _Rejected as rejected:
            raise rejected.error from None  # the run never started: nothing to record
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

    async def _prepare(self, inp: RunInput, history: list[ModelMessage], bounded: BoundedHistory) -> _Turn:
        """The turn to run: a new one, or one continuing from client tool results (see `_deferred`)."""
        paused: PausedRun | None = None
        if inp.client_tools or inp.tool_results is not None or self._approvals:
            # resumes the session's paused run, or drops a stale one: a new turn abandons its pending calls
            paused = await take_paused_run(self.memory, inp.session_id)
        if paused is not None and inp.tool_results is None:
            await self._new_turn_over(inp, paused, abandon=bool(inp.client_tools))
            paused = None
        tools = list(inp.client_tools)
        results: DeferredToolResults | None = None
        if inp.tool_results is None:
            turn = _Turn(
                inp=inp, kwargs={}, prompt=inp.prompt, user_prompt=inp.prompt, client_tools=tools, history=bounded
            )
        elif paused is not None:
            try:
                results = deferred_results(paused, inp.tool_results)
            except BadRequestError:
                await save_paused_run(self.memory, paused, ttl_seconds=self.settings.paused_run_ttl_seconds)
                raise
            await self._record_decisions(inp, paused, approval_decisions(paused, inp.tool_results))
            tools += [tool for tool in paused.tools if all(tool.name != t.name for t in tools)]
            history = paused.messages
            turn = _Turn(
                inp=inp,
                kwargs={},
                prompt=None,
                user_prompt=paused.prompt,
                client_tools=tools,
                history=bounded,
                turn_start=paused.turn_start,
            )
        elif _answers_calls(history, inp.tool_results):  # the client re-sent the conversation with the results
            turn = _Turn(inp=inp, kwargs={}, prompt=None, user_prompt=inp.prompt, client_tools=tools, history=bounded)
        else:
            raise BadRequestError(
                f"no paused run of session {inp.session_id!r} awaits these tool results, and the request's "
                "messages hold no tool calls they answer",
                param="messages",
            )
        turn.kwargs = self._run_kwargs(inp, history, tools, results)
        turn.instrumented = "capabilities" in turn.kwargs
        if inp.tool_choice is not None:
            turn.kwargs["capabilities"] = [*turn.kwargs.get("capabilities", []), FirstStepToolChoice(inp.tool_choice)]
        if self._approval_policy is not None:
            turn.kwargs["capabilities"] = [*turn.kwargs.get("capabilities", []), self._approval_policy]
        return turn

    async def _new_turn_over(self, inp: RunInput, paused: PausedRun, *, abandon: bool) -> None:
        """A new turn (no tool messages) on a session with a paused run.

        Raises:
            SessionBusyError: calls await approval: the session stays locked to its paused run until
                they are decided (or their deadline passes, after which a new turn drops them as denied).
        """
        ttl = self.settings.paused_run_ttl_seconds
        if paused.approvals and not paused.expired():
            await save_paused_run(self.memory, paused, ttl_seconds=ttl)
            awaiting = ", ".join(f"{call.id} ({call.tool})" for call in paused.approvals)
            raise SessionBusyError(
                f"session {paused.session_id!r} awaits approval of tool calls {awaiting}: answer each with a "
                'tool message {"approved": true} or {"approved": false, "reason": "..."}, or decide it with '
                "POST /approvals/{id}, before a new turn"
            )
        if not paused.approvals and not abandon:
            await save_paused_run(self.memory, paused, ttl_seconds=ttl)  # client tool calls outlive other turns
        elif paused.approvals:  # past its deadline: dropped, its calls denied
            denied = {call.id: ToolDenied(TIMED_OUT_MESSAGE) for call in paused.approvals}
            await self._record_decisions(inp, paused, denied)
            if any(call.kind == "delegated" for call in paused.approvals):
                self.in_background(self._deny_delegated(inp, paused))

    async def _deny_delegated(self, inp: RunInput, paused: PausedRun) -> None:
        """Send denials down to the sub-agents of a dropped pause, so that their tasks end too."""
        with principal_scope(inp.principal):
            for metadata in paused.metadata.values():
                for toolset in self._delegations:
                    try:
                        if await toolset.deny_paused(
                            metadata,
                            reason=TIMED_OUT_MESSAGE,
                            session_id=inp.session_id,
                            depth=inp.depth,
                        ):
                            break
                    except DelegationError as exc:
                        logger.warning("could not send denials down a dropped delegation: %s", exc)

    async def _record_decisions(self, inp: RunInput, paused: PausedRun, decisions: Mapping[str, object]) -> None:
        """Memory's `approval_decided` events for the paused run's calls awaiting approval.

        A decision recorded by id (`POST /approvals/{id}`) has its event already, unless it came too late.
        """
        timed_out = paused.expired()
        by = inp.principal.id if inp.principal is not None else None
        events = [
            approval_decided(
                call.id, call.tool, decisions.get(call.id), agent=call.agent, principal=by, timed_out=timed_out
            )
            for call in paused.approvals
            if timed_out or call.id not in paused.decisions
        ]
        if events:
            await self.memory.append(inp.session_id, events)

    def _run_kwargs(
        self,
        inp: RunInput,
        history: list[ModelMessage],
        client_tools: list[ToolDefinition],
        results: DeferredToolResults | None,
    ) -> dict[str, Any]:
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
        output: Any = None if inp.output is None else output_spec(inp.output, self._model or self.agent.model)
        if client_tools or self._approvals:
            kwargs["output_type"] = [output or self.agent.output_type, DeferredToolRequests]
        elif output is not None:
            kwargs["output_type"] = output
        if self._toolsets or client_tools:
            kwargs["toolsets"] = [*self._toolsets, *([client_toolset(client_tools)] if client_tools else [])]
        if results is not None:
            kwargs["deferred_tool_results"] = results
        if inp.cancellation is not None:
            kwargs["cancellation_token"] = inp.cancellation
        if capabilities := agent_capabilities(self.agent):
            kwargs["capabilities"] = capabilities  # agent run, model request and tool spans
        return kwargs

    async def _finish(self, turn: _Turn, run: AgentRunResult[Any]) -> RunResult:
        if not turn.instrumented:  # telemetry off, or trace not sampled
            record_token_usage(self.agent, run.new_messages())
        everything = run.all_messages()
        start = turn.turn_start if turn.turn_start is not None else len(everything) - len(run.new_messages())
        messages = everything[start:]
        output = run.output
        if isinstance(output, DeferredToolRequests):
            return await self._pause(turn, run, everything, start, output)
        text = output if isinstance(output, str) else to_json(output).decode()
        result = RunResult(
            output=text,
            usage=_usage(run.usage),
            finish_reason=_finish_reason(messages),
            tool_call_count=run.usage.tool_calls,
        )
        counts = result.usage.model_dump() if result.usage is not None else {}
        events = [
            user_event(turn.user_prompt, delegated=turn.inp.delegated),
            *turn_events(messages, text, counts, target_for=self._target_for),
        ]
        with memory_operation("append", backend=self.settings.memory_type):
            await self.memory.append(turn.inp.session_id, events, messages)
        self.history.after_turn(turn.inp.session_id, turn.history)
        return result

    async def _pause(
        self,
        turn: _Turn,
        run: AgentRunResult[Any],
        messages: list[ModelMessage],
        start: int,
        requests: DeferredToolRequests,
    ) -> RunResult:
        """Store the run paused on deferred calls; the session's history is written when it completes."""
        pending = pending_calls(requests)
        principal = turn.inp.principal
        paused = PausedRun(
            session_id=turn.inp.session_id,
            prompt=turn.user_prompt,
            messages=messages,
            turn_start=start,
            pending=pending,
            tools=turn.client_tools,
            principal=principal.id if principal is not None else None,
            metadata=requests.metadata,
            system=turn.inp.system,
            output=turn.inp.output,
            model_settings=dict(turn.inp.model_settings) if turn.inp.model_settings else None,
        )
        if paused.approvals:
            paused.approval_deadline = paused.paused_at + self.settings.approval_timeout_seconds
        with memory_operation("pause", backend=self.settings.memory_type):
            await save_paused_run(self.memory, paused, ttl_seconds=self.settings.paused_run_ttl_seconds)
        if paused.approval_deadline is not None:
            events = [
                approval_requested(
                    call.id,
                    call.tool,
                    call.arguments,
                    agent=call.agent,
                    principal=paused.principal,
                    deadline=paused.approval_deadline,
                )
                for call in paused.approvals
            ]
            await self.memory.append(paused.session_id, events)
        return RunResult(
            output=_response_text(messages),
            usage=_usage(run.usage),
            finish_reason="tool_calls",
            tool_calls=tuple(call.to_openai() for call in pending),
            pending_approvals=tuple(call.id for call in paused.approvals),
            approval_agents={call.id: call.agent for call in paused.approvals if call.agent is not None},
            tool_call_count=run.usage.tool_calls,
        )

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
