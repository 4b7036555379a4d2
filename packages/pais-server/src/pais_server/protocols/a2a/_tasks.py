"""A2A tasks: created from messages, run by the `AgentRunner`, stored in memory, cancellable from any replica.

A task is interactive (one agent run) or autonomous (`configuration.mode: "autonomous"`: the
`runtime.pursue` loop over iterations within budgets); both share storage, events and cancel.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError
from pydantic_ai import CancellationToken
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, UserPromptPart
from pydantic_ai.messages import TextPart as ModelTextPart

from pais_core import (
    STREAM_EVENT,
    TERMINAL_TASK_STATES,
    Artifact,
    BadRequestError,
    DataPart,
    FilePart,
    JsonRpcErrorCode,
    ListTasksParams,
    ListTasksResult,
    Message,
    MessageSendConfiguration,
    MessageSendParams,
    NotFoundError,
    PaisError,
    Settings,
    StreamEvent,
    Task,
    TaskArtifactUpdateEvent,
    TaskBudgets,
    TaskEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    TextPart,
    current_principal,
    new_a2a_id,
    principal_scope,
)
from pais_delegation import CONTEXT_METADATA_KEY
from pais_memory import Memory, TaskStep
from pais_telemetry import A2A_CONTEXT_ID, A2A_TASK_ID, A2A_TASK_SPAN, A2A_TASK_STATE, pais_tracer

from ...auth import ALL, NOTHING
from ...runtime import Budgets, pursue
from ...runtime._approvals import Decision
from ...runtime._deferred import deferred_results, peek_paused_run
from ...runtime._leases import Leases, LeaseSweeper
from ...runtime._run_log import RunLogWriter
from ...runtime._runner import AgentRunner, RunInput, RunResult, TextDelta, ToolProgress
from ._push import PushConfig, PushConfigError, PushNotifier, push_config_from_wire

__all__ = ["PROGRESS_METADATA_KEY", "A2AError", "A2ATasks", "TaskRun"]

logger = logging.getLogger("pais_server.a2a")

PROGRESS_METADATA_KEY = "pais_progress"
"""Metadata key of a streamed `working` status update that carries tool or delegation progress."""

_CONTEXT_ID = re.compile(r"^[\x21-\x7e]{1,256}$")
_SHUTDOWN_GRACE = 5.0
_ABANDONED = (
    "the replica running this task stopped before it finished (its lease expired); send the message again to retry"
)
_MAX_TASK_EVENTS = 200
"""Lifecycle events kept in a task record: an unbounded autonomous task must not grow it forever."""
_T = TypeVar("_T")


class A2AError(Exception):
    """A request the A2A layer refuses, with its JSON-RPC error code."""

    def __init__(self, code: JsonRpcErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _with_event(task: Task, event_type: str, **data: Any) -> Task:
    """`task` with one more lifecycle event (`task.working`, ...) at the end of its log (the newest kept)."""
    event = TaskEvent(type=event_type, timestamp=_now(), data=data)
    return task.model_copy(update={"events": [*task.events, event][-_MAX_TASK_EVENTS:]})


def _agent_message(task: Task, text: str) -> Message:
    return Message(role="agent", parts=[TextPart(text=text)], contextId=task.context_id, taskId=task.id)


def _conversation(message: Message) -> tuple[str, list[ModelMessage]]:
    """The prompt (text parts) and the forwarded conversation (parts tagged `CONTEXT_METADATA_KEY`)."""
    prompt: list[str] = []
    history: list[ModelMessage] = []
    for part in message.parts:
        if not isinstance(part, TextPart):
            continue
        forwarded = (part.metadata or {}).get(CONTEXT_METADATA_KEY)
        if not isinstance(forwarded, list):
            prompt.append(part.text)
            continue
        for item in cast(list[Any], forwarded):
            if not isinstance(item, dict):
                continue
            entry = cast(dict[str, Any], item)
            content = entry.get("content")
            if not isinstance(content, str) or not content:
                continue
            if entry.get("role") == "assistant":
                history.append(ModelResponse(parts=[ModelTextPart(content=content)]))
            else:
                history.append(ModelRequest(parts=[UserPromptPart(content=content)]))
    return "\n".join(prompt), history


@dataclass(eq=False)
class TaskRun:
    """One task being run on this replica; its events go to its run log, and to a queue when the caller streams."""

    task: Task
    token: CancellationToken
    events: asyncio.Queue[StreamEvent | None] | None
    log: RunLogWriter | None = None
    """Where every event of the task goes, for subscribers on any replica."""
    budgets: Budgets | None = None
    """The limits of an autonomous task (None: an interactive one)."""
    iteration: int = 1
    """An autonomous task's first iteration in this run (the one it paused on, when decisions resume it)."""
    future: asyncio.Future[Task] = field(init=False)
    artifact_id: str = field(default_factory=new_a2a_id)
    """The id of the task's answer artifact, streamed in chunks and stored whole."""
    _pending: str | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    """The calls the run paused on for approval (`input-required`): `{"id", "tool", "arguments"}` each."""
    _chunks: int = 0

    def snapshot(self) -> Task:
        """The task as it is now (a copy)."""
        return self.task.model_copy(deep=True)

    async def result(self) -> Task:
        """Wait for the task to settle; the run goes on if the waiter is cancelled."""
        return await asyncio.shield(self.future)

    async def stream(self) -> AsyncIterator[StreamEvent]:
        """The task's events: the submitted task, status and artifact updates, then a final status update."""
        assert self.events is not None, "the task was not started for streaming"
        while (event := await self.events.get()) is not None:
            yield event

    def tell(self, event: StreamEvent | None) -> None:
        """Queue `event` for the streaming caller (None ends the stream)."""
        if self.events is not None:
            self.events.put_nowait(event)

    def emit(self, event: StreamEvent) -> None:
        """Queue `event` for the streaming caller and append it to the run log."""
        self.tell(event)
        if self.log is not None:
            self.log.emit(_logged(event))

    @property
    def streamed_text(self) -> bool:
        """Whether answer text was streamed (or is held back to be)."""
        return self._chunks > 0 or self._pending is not None

    def emit_text(self, text: str, *, last: bool) -> None:
        """Stream answer text as chunks of one artifact, holding one chunk back to mark the last one."""
        if self.events is None and self.log is None:
            return
        if self._pending is not None:
            self._emit_chunk(self._pending, last=last and not text)
        self._pending = text or None
        if last and self._pending is not None:
            self._emit_chunk(self._pending, last=True)
            self._pending = None

    def _emit_chunk(self, text: str, *, last: bool) -> None:
        artifact = Artifact(artifactId=self.artifact_id, name="answer", parts=[TextPart(text=text)])
        self.emit(
            TaskArtifactUpdateEvent(
                taskId=self.task.id,
                contextId=self.task.context_id,
                artifact=artifact,
                append=self._chunks > 0,
                lastChunk=last,
            )
        )
        self._chunks += 1


class A2ATasks:
    """Creates, runs, stores and cancels A2A tasks for one server.

    Task records live in the memory backend, so any replica answers `get`, `list` and `cancel`.
    The replica running a task polls its record every `poll_seconds` while it runs and stops the
    run (Pydantic AI `CancellationToken`) as soon as another replica marked it `canceled`.
    Each task's events go to its run log, which any replica follows for `SubscribeToTask`. The
    replica running a task holds its lease (`A2A_TASK_LEASE_SECONDS`); every replica sweeps for
    expired leases and ends a task whose replica died `failed`.
    """

    def __init__(self, runner: AgentRunner, *, poll_seconds: float = 0.25) -> None:
        self.runner = runner
        self.memory: Memory = runner.memory
        self.access = runner.access
        self.poll_seconds = poll_seconds
        self._runs: dict[str, TaskRun] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False
        lease = runner.settings.a2a_task_lease_seconds
        self._leases = Leases(self.memory, ttl_seconds=lease)
        self._sweeper = LeaseSweeper(self.memory, self._end_abandoned, interval=lease / 3)
        self.push = PushNotifier(self._leases, allowed_hosts=runner.settings.push_allowed_hosts)

    async def __aenter__(self) -> A2ATasks:
        self._sweeper.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the tasks still running here (they end `failed`), waiting briefly for their records."""
        self._closing = True
        await self._sweeper.stop()
        runs = list(self._runs.values())
        for run in runs:
            run.token.cancel()
        if runs:
            await asyncio.wait([run.future for run in runs], timeout=_SHUTDOWN_GRACE)
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.push.aclose(grace=_SHUTDOWN_GRACE)
        await self._leases.aclose()

    async def submit(
        self,
        params: MessageSendParams,
        *,
        depth: int = 0,
        stream: bool = False,
        task_id: str | None = None,
        push: dict[str, Any] | None = None,
    ) -> TaskRun:
        """Create a task for `params.message`, store it and start running it in the background.

        The task is stored `working` with its lease, its log starting with it as submitted (an
        interactive task) or as working (an autonomous one). `push` is the send's push-notification
        config (wire JSON of either version), stored with the task.

        Raises:
            A2AError: the message cannot start a task.
        """
        message = params.message
        budgets: Budgets | None = None
        if params.configuration is not None and params.configuration.mode == "autonomous":
            if stream:
                raise A2AError(
                    JsonRpcErrorCode.UNSUPPORTED_OPERATION,
                    "an autonomous task is started with SendMessage (message/send) and followed with GetTask",
                )
            budgets = Budgets.resolve(params.configuration.budgets, self.runner.settings)
        if message.task_id is not None:
            decided = await self._decided(message, depth=depth, stream=stream, push=push)
            if decided is not None:
                return decided
            await self._refuse_follow_up(message.task_id)
        context_id = message.context_id or f"session-{new_a2a_id()}"
        if not _CONTEXT_ID.match(context_id):
            raise A2AError(
                JsonRpcErrorCode.INVALID_PARAMS, "contextId must be 1-256 printable ASCII characters without spaces"
            )
        if message.parts and not any(isinstance(part, TextPart) for part in message.parts):
            raise A2AError(
                JsonRpcErrorCode.CONTENT_TYPE_NOT_SUPPORTED, "this agent reads text parts only; the message has none"
            )
        await self._access(self.access.claim(context_id, current_principal()))
        prompt, history = _conversation(message)
        if not prompt.strip():
            raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, "the message has no text part to act on")
        task_id = task_id or new_a2a_id()
        webhook = None if push is None else await self._push_config(push, default_id=task_id)
        received = message.model_copy(update={"task_id": task_id, "context_id": context_id})
        task = Task(
            id=task_id,
            contextId=context_id,
            status=TaskStatus(state="submitted", timestamp=_now()),
            history=[received],
            metadata=params.metadata,
            autonomous=budgets is not None,
        )
        owner = self.access.task_owner()
        task = _with_event(task, "task.submitted", **({"by": owner} if owner is not None else {}))
        if budgets is None:
            working = _with_event(_working(task), "task.working")
        else:  # the log starts with the task working: its first event says with which budgets
            task = working = _with_event(_working(task), "task.working", budgets=_budget_data(budgets))
        if webhook is not None:
            await self.memory.put_push_config(task_id, webhook.id, webhook.model_dump())
        token = CancellationToken()
        inp = RunInput(session_id=context_id, prompt=prompt, request_history=history, depth=depth, cancellation=token)
        run = TaskRun(task=task, token=token, events=asyncio.Queue() if stream else None, budgets=budgets)
        await self._begin(run, working)
        return self._launch(run, inp)

    async def _begin(self, run: TaskRun, working: Task) -> None:
        """Store the task `working`, log it (as received, then working) and take its lease, in one step.

        The log and the lease exist with the record: whoever sees the task can follow it, and a
        replica that dies from here on leaves a lease that runs out.
        """
        first = run.task
        events = [_logged(first)]
        update = None
        if first.status.state != "working":
            update = TaskStatusUpdateEvent(
                taskId=working.id, contextId=working.context_id, status=working.status.model_copy()
            )
            events.append(_logged(update))
        step = await self.memory.put_task_step(
            working.id,
            working.context_id,
            working.to_record(),
            events=[(data, False) for data in events],
            owner=self.access.task_owner(),
            lease_holder=self._leases.holder,
            lease_seconds=self._leases.ttl_seconds,
        )
        self._notify(working.id, step, events)
        run.task = working
        run.tell(first)
        if update is not None:
            run.tell(update)

    def _notify(self, task_id: str, step: TaskStep, events: Sequence[dict[str, Any]]) -> None:
        """Hand the events a step wrote to the push notifier, with the task's configs the step read."""
        if step.push_configs:
            for event_id, data in zip(step.event_ids, events, strict=True):
                self.push.notify(task_id, event_id, data, configs=step.push_configs)

    def _launch(self, run: TaskRun, inp: RunInput) -> TaskRun:
        """Run `inp` in the background for `run`, whose task was stored (and logged) working with its lease."""
        task_id = run.task.id
        run.log = RunLogWriter(self.memory, task_id, written=partial(self.push.notify, task_id))
        self._leases.keep(task_id)
        run.future = asyncio.get_running_loop().create_task(self._execute(run, inp), name=f"a2a-task-{task_id}")
        self._runs[task_id] = run
        run.future.add_done_callback(lambda _: self._forget(task_id))
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="a2a-cancel-watcher")
        return run

    def _forget(self, task_id: str) -> None:
        self._runs.pop(task_id, None)
        self._leases.drop(task_id)

    async def _decided(
        self, message: Message, *, depth: int, stream: bool, push: dict[str, Any] | None = None
    ) -> TaskRun | None:
        """Resume an `input-required` task with the message's approval decisions; None when it has none.

        The decisions are a data part `{"decisions": {"<call id>": {"approved": bool, "reason"?: str}}}`.
        Of concurrent decisions on one pause, one resumes the run; the others are refused. `push` (the
        send's push-notification config) is added to the task's configs, like a new task's.

        Raises:
            A2AError: the task is missing, another's, of another context, not awaiting approval, or already decided.
            BadRequestError: a decision names no call awaiting one, or a call awaiting one has none.
        """
        decisions = _decisions(message)
        if decisions is None or message.task_id is None:
            return None
        task = await self._load(message.task_id)
        # decided by its owner, or the agent's operators for its own task (it resumes as the agent)
        acting = await self._access(self.access.resuming_as(task.context_id), task.id)
        if message.context_id not in (None, task.context_id):
            raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, f"task {task.id} is not of context {message.context_id!r}")
        results = {call_id: json.dumps(decision) for call_id, decision in decisions.items()}
        if task.status.state == "input-required" and (paused := await peek_paused_run(self.memory, task.context_id)):
            deferred_results(paused, results)  # an unknown or missing decision is refused before the pause is taken
        webhook = None if push is None else await self._push_config(push, default_id=task.id)
        pause = f"approval-decided:{task.id}:{task.status.timestamp}"
        if task.status.state != "input-required" or await self.memory.claim(pause, message.message_id) != (
            message.message_id
        ):
            raise A2AError(
                JsonRpcErrorCode.INVALID_PARAMS,
                f"task {task.id} awaits no approval decisions ({task.status.state}, or decided already)",
            )
        if webhook is not None:
            await self.memory.put_push_config(task.id, webhook.id, webhook.model_dump())
        received = message.model_copy(update={"context_id": task.context_id})
        task = _with_event(
            _working(task.model_copy(update={"history": [*(task.history or []), received]})), "task.working"
        )
        token = CancellationToken()
        budgets = _resumed_budgets(task, self.runner.settings)
        goal = _conversation(task.history[0])[0] if budgets is not None and task.history else ""
        with principal_scope(acting):  # the run, its task record and its lease act for it
            inp = RunInput(
                session_id=task.context_id, prompt=goal, depth=depth, cancellation=token, tool_results=results
            )
            run = TaskRun(
                task=task,
                token=token,
                events=asyncio.Queue() if stream else None,
                budgets=budgets,
                iteration=_paused_iteration(task),
            )
            await self._begin(run, task)
            return self._launch(run, inp)

    async def resume_decided(self, context_id: str) -> TaskRun | None:
        """Resume the context's `input-required` task once its calls were decided by id (`POST /approvals/{id}`
        keeps the decisions with the paused run); None when no task of the context awaits approval.

        Raises:
            A2AError: the task was resumed meanwhile (by an A2A message with decisions).
        """
        page = await self.memory.list_tasks(context_id=context_id, state="input-required", limit=1)
        waiting = Task.model_validate(page.items[0]) if page.items else None
        if waiting is None:
            latest = await self.memory.list_tasks(context_id=context_id, limit=1)
            last = Task.model_validate(latest.items[0]) if latest.items else None
            if last is not None and last.status.state in ("submitted", "working"):  # resumed by an A2A message
                raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, f"task {last.id} was resumed meanwhile")
            return None
        decided = Message(
            role="user", parts=[DataPart(data={"decisions": {}})], taskId=waiting.id, contextId=context_id
        )
        return await self._decided(decided, depth=0, stream=False)

    async def start_goal(self, goal: str) -> TaskRun | None:
        """Start `goal` as an autonomous task unless a replica of this agent already did (None then).

        The claim is keyed by the goal's text: a changed `AUTONOMOUS_GOAL` starts anew. A memory
        backend that is down is logged, not raised: the server still starts, without the goal.
        """
        task_id = new_a2a_id()
        claim = "autonomous-goal:" + hashlib.sha256(goal.encode()).hexdigest()[:16]
        try:
            owner = await self.memory.claim(claim, task_id)
        except PaisError as exc:
            logger.error("AUTONOMOUS_GOAL not started: cannot claim it in memory: %s", exc.message)
            return None
        if owner != task_id:
            logger.info("the start-up goal already runs as task %s", owner)
            return None
        params = MessageSendParams(
            message=Message(role="user", parts=[TextPart(text=goal)]),
            configuration=MessageSendConfiguration(mode="autonomous"),
        )
        run = await self.submit(params, task_id=task_id)
        logger.info("the start-up goal runs as task %s", task_id)
        return run

    async def get(self, task_id: str, *, history_length: int | None = None) -> Task:
        """The stored task.

        Raises:
            A2AError: no such task.
        """
        task = await self._load(task_id)
        await self._access(self.access.check_read(task.context_id), task_id)
        return _trim(task, history_length)

    async def subscribe(self, task_id: str) -> AsyncIterator[StreamEvent]:
        """The task as it is now, then every event of its run log up to the final status update.

        Events streamed before the subscription (answer chunks included) are replayed, so a client
        that lost its stream misses nothing; works on any replica. A pause for approval
        (`input-required`) does not end the log: the subscription follows the task once decided.

        Raises:
            A2AError: no such task (or another principal's), or it already ended (`GetTask` returns it).
        """
        task = await self._load(task_id)
        await self._access(self.access.check_read(task.context_id), task_id)
        if task.status.state in TERMINAL_TASK_STATES:
            raise A2AError(
                JsonRpcErrorCode.UNSUPPORTED_OPERATION,
                f"task {task_id} is already {task.status.state}; get it with GetTask (tasks/get)",
            )
        return self._follow(task)

    async def _follow(self, task: Task) -> AsyncIterator[StreamEvent]:
        yield task
        ended = False
        first = True
        try:
            async for entry in self.memory.follow_run_events(task.id):
                event = STREAM_EVENT.validate_python(entry.data)
                if not (first and isinstance(event, Task)):  # the task as submitted: its current state went first
                    yield event  # (a later task is the task resumed after an approval decision)
                first = False
                ended = entry.final
            if not ended:  # the log is gone (retention): say how the task stands
                current = await self._load(task.id)
                final = current.status.state in TERMINAL_TASK_STATES
                yield TaskStatusUpdateEvent(
                    taskId=task.id, contextId=task.context_id, status=current.status, final=final
                )
        except PaisError as exc:
            logger.warning("subscription to task %s ended early: %s", task.id, exc.message)

    async def cancel(self, task_id: str) -> Task:
        """Mark the task `canceled`; the replica running it stops the run.

        Raises:
            A2AError: no such task, or it already ended.
        """
        task = await self._load(task_id)
        await self._access(self.access.check_own(task.context_id), task_id)
        if task.status.state in TERMINAL_TASK_STATES:
            raise A2AError(
                JsonRpcErrorCode.TASK_NOT_CANCELABLE,
                f"task {task_id} is already {task.status.state} and cannot be canceled",
            )
        task.status = TaskStatus(
            state="canceled", message=_agent_message(task, "canceled by request"), timestamp=_now()
        )
        task = _with_event(task, "task.canceled", reason="canceled by request")
        if not await self._store(task, unless_ended=True):  # the run ended (on some replica) since we read it
            ended = await self._load(task_id)
            raise A2AError(
                JsonRpcErrorCode.TASK_NOT_CANCELABLE,
                f"task {task_id} is already {ended.status.state} and cannot be canceled",
            )
        run = self._runs.get(task_id)
        if run is not None:
            run.token.cancel()
        return task

    async def list(self, params: ListTasksParams, *, include_artifacts: bool = True) -> ListTasksResult:
        """One page of the caller's tasks (or one context's), most recently updated first, the state and
        status-time filters applied before paging (A2A 1.0, section 3.1.4), read from the memory's task
        index (the cost of one page, not of every task); the page token is the memory's cursor.

        Raises:
            A2AError: the page token is not one this method gave.
        """
        page_size = params.page_size or 50
        owner = self.access.listing_owner()
        if params.context_id is not None:
            await self._access(self.access.check_read(params.context_id))
        elif owner == NOTHING:
            return ListTasksResult(tasks=[], nextPageToken="", pageSize=page_size, totalSize=0)
        try:
            page = await self.memory.list_tasks(
                context_id=params.context_id,
                owner=None if owner == ALL else owner,
                state=params.status,
                changed_since=params.status_timestamp_after,
                cursor=params.page_token or None,
                limit=page_size,
            )
        except BadRequestError:
            raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, f"invalid pageToken {params.page_token!r}") from None
        chunk = [Task.model_validate(record) for record in page.items]
        if not include_artifacts:
            chunk = [task.model_copy(update={"artifacts": None}) for task in chunk]
        return ListTasksResult(
            tasks=[_trim(task, params.history_length) for task in chunk],
            nextPageToken=page.next_cursor or "",
            pageSize=page_size,
            totalSize=page.total,
        )

    async def set_push_config(self, task_id: str, data: Any) -> PushConfig:
        """Store a push-notification config (wire JSON of either version) for the caller's task.

        Raises:
            A2AError: no such task, or the config is refused.
        """
        task = await self._load(task_id)
        await self._access(self.access.check_own(task.context_id), task_id)
        config = await self._push_config(data, default_id=task_id)
        await self.memory.put_push_config(task_id, config.id, config.model_dump())
        return config

    async def get_push_config(self, task_id: str, config_id: str) -> PushConfig:
        """One push-notification config of a task.

        Raises:
            A2AError: no such task or config.
        """
        await self._readable(task_id)
        record = await self.memory.get_push_config(task_id, config_id)
        if record is None:
            raise A2AError(
                JsonRpcErrorCode.TASK_NOT_FOUND, f"push notification config {config_id!r} of task {task_id} not found"
            )
        return PushConfig.model_validate(record)

    async def list_push_configs(self, task_id: str) -> list[PushConfig]:
        """The push-notification configs of a task.

        Raises:
            A2AError: no such task.
        """
        await self._readable(task_id)
        return [PushConfig.model_validate(record) for record in await self.memory.list_push_configs(task_id)]

    async def delete_push_config(self, task_id: str, config_id: str) -> None:
        """Remove a push-notification config of the caller's task.

        Raises:
            A2AError: no such task or config.
        """
        task = await self._load(task_id)
        await self._access(self.access.check_own(task.context_id), task_id)
        if not await self.memory.delete_push_config(task_id, config_id):
            raise A2AError(
                JsonRpcErrorCode.TASK_NOT_FOUND, f"push notification config {config_id!r} of task {task_id} not found"
            )

    async def _push_config(self, data: Any, *, default_id: str) -> PushConfig:
        try:
            config = push_config_from_wire(data, default_id=default_id)
            await self.push.check_url(config.url)
        except PushConfigError as exc:
            raise A2AError(JsonRpcErrorCode.INVALID_PARAMS, str(exc)) from None
        return config

    async def _readable(self, task_id: str) -> None:
        task = await self._load(task_id)
        await self._access(self.access.check_read(task.context_id), task_id)

    async def _refuse_follow_up(self, task_id: str) -> None:
        task = await self._load(task_id)
        await self._access(self.access.check_read(task.context_id), task_id)
        ended = task.status.state in TERMINAL_TASK_STATES
        raise A2AError(
            JsonRpcErrorCode.UNSUPPORTED_OPERATION if ended else JsonRpcErrorCode.INVALID_PARAMS,
            f"task {task_id} {'has ended' if ended else 'is still running'} ({task.status.state}); "
            "send the message without taskId to start a new task",
        )

    @staticmethod
    async def _access(check: Awaitable[_T], task_id: str | None = None) -> _T:
        """Another principal's context answers like a missing task (or context)."""
        try:
            return await check
        except NotFoundError as exc:
            message = f"task {task_id} not found" if task_id else exc.message
            raise A2AError(JsonRpcErrorCode.TASK_NOT_FOUND, message) from None

    async def _load(self, task_id: str) -> Task:
        record = await self.memory.get_task(task_id)
        if record is None:
            raise A2AError(JsonRpcErrorCode.TASK_NOT_FOUND, f"task {task_id} not found")
        return Task.model_validate(record)

    async def _store(self, task: Task, *, unless_ended: bool = False) -> bool:
        """Store the task record; with `unless_ended`, not over one that already ended (False then)."""
        return await self.memory.put_task(
            task.id,
            task.context_id,
            task.to_record(),
            unless_state_in=TERMINAL_TASK_STATES if unless_ended else (),
            owner=self.access.task_owner(),
        )

    async def _stored_state(self, task_id: str) -> TaskState | None:
        record = await self.memory.get_task(task_id)
        return None if record is None else Task.model_validate(record).status.state

    async def _execute(self, run: TaskRun, inp: RunInput) -> Task:
        # Started by `submit` with `create_task`, which copies the request's context: the span is a child
        # of the request span, also when a non-blocking send has already answered.
        task = run.task
        attributes = {A2A_TASK_ID: task.id, A2A_CONTEXT_ID: task.context_id}
        with pais_tracer().start_as_current_span(A2A_TASK_SPAN, kind=SpanKind.INTERNAL, attributes=attributes) as span:
            try:
                state, text = await self._run(run, inp)
                await self._end(run, state, text)
            finally:
                run.tell(None)  # the streaming caller's stream ends, also when the end could not be stored
            state = run.task.status.state
            span.set_attribute(A2A_TASK_STATE, state)
            if state == "failed":
                span.set_status(Status(StatusCode.ERROR, text))
            return run.snapshot()

    async def _end(self, run: TaskRun, state: TaskState, text: str) -> None:
        """Store how the run ended, log it after what the run's log has not written yet, give the lease up.

        One step; when a cancel landed (on some replica) as the run ended, the stored record stands
        and is what the log and the streaming caller get.
        """
        ended = self._ended(run, state, text)
        update = TaskStatusUpdateEvent(
            taskId=ended.id,
            contextId=ended.context_id,
            status=ended.status.model_copy(),
            final=ended.status.state in TERMINAL_TASK_STATES,
        )
        events = [*(await run.log.drain() if run.log is not None else []), (_logged(update), update.final)]
        step = await self.memory.put_task_step(
            ended.id,
            ended.context_id,
            ended.to_record(),
            events=events,
            unless_state_in=TERMINAL_TASK_STATES,
            owner=self.access.task_owner(),
            lease_holder=self._leases.holder,
        )
        if not step.stored:
            if step.current is not None:
                ended = Task.model_validate(step.current)
            update = TaskStatusUpdateEvent(
                taskId=ended.id, contextId=ended.context_id, status=ended.status.model_copy(), final=True
            )
            events[-1] = (_logged(update), True)
            ids = await self.memory.append_run_events(ended.id, events)
            await self.memory.release_lease(ended.id, self._leases.holder)
            step = TaskStep(stored=True, event_ids=ids, push_configs=await self.memory.list_push_configs(ended.id))
        self._notify(ended.id, step, [data for data, _ in events])
        run.task = ended
        run.tell(update)

    def _ended(self, run: TaskRun, state: TaskState, text: str) -> Task:
        """The task as the run ended it: the answer as an artifact and in the history, or the reason."""
        data = (
            {"error": text} if state == "failed" else {"approvals": run.approvals} if state == "input-required" else {}
        )
        task = _with_event(run.task, f"task.{state}", **data)  # the KAOS dialect shows events, not status messages
        if state == "input-required":  # paused for approval: the calls awaiting it, as data
            parts: list[TextPart | FilePart | DataPart] = [DataPart(data={"approvals": run.approvals})]
            if text:
                parts.insert(0, TextPart(text=text))
            message = Message(role="agent", parts=parts, contextId=task.context_id, taskId=task.id)
            return task.model_copy(update={"status": TaskStatus(state=state, message=message, timestamp=_now())})
        if state != "completed":
            message = _agent_message(task, text)
            return task.model_copy(update={"status": TaskStatus(state=state, message=message, timestamp=_now())})
        artifact = Artifact(artifactId=run.artifact_id, name="answer", parts=[TextPart(text=text)])
        return task.model_copy(
            update={
                "status": TaskStatus(state=state, timestamp=_now()),
                "artifacts": [artifact],
                "history": [*(task.history or []), _agent_message(task, text)],
            }
        )

    async def _run(self, run: TaskRun, inp: RunInput) -> tuple[TaskState, str]:
        """Run the agent; the final state and the answer (or the reason it has none)."""
        try:
            if run.budgets is not None:
                record = partial(self._record, run)
                result = await pursue(self.runner, inp, run.budgets, record, iteration=run.iteration)
            elif run.events is None:
                result = await self.runner.run(inp)
                run.emit_text(result.output, last=True)
            else:
                result = await self._stream(run, inp)
            if result.pending_approvals:
                agents = result.approval_agents
                run.approvals = [
                    {"id": call.id, "tool": call.function.name, "arguments": _arguments(call.function.arguments)}
                    | ({"agent": agents[call.id]} if call.id in agents else {})
                    for call in result.tool_calls
                    if call.id in result.pending_approvals
                ]
                return "input-required", result.output
        except PaisError as exc:
            if not run.token.cancelled:
                return "failed", exc.message
            if self._closing:
                return "failed", "the server shut down before the task finished"
            return "canceled", "canceled by request"
        return "completed", result.output

    async def _record(self, run: TaskRun, event_type: str, data: dict[str, Any]) -> None:
        """Store one more lifecycle event of a running task; stop the run if the task ended meanwhile."""
        task = _with_event(run.task, event_type, **data)
        if await self._store(task, unless_ended=True):
            run.task = task
        else:
            run.token.cancel()  # canceled on some replica

    async def _stream(self, run: TaskRun, inp: RunInput) -> RunResult:
        result: RunResult | None = None
        async for event in self.runner.stream(inp):  # consumed to the end, so the runner closes in this task
            if isinstance(event, TextDelta):
                run.emit_text(event.text, last=False)
            elif isinstance(event, ToolProgress):
                run.emit(
                    TaskStatusUpdateEvent(
                        taskId=run.task.id,
                        contextId=run.task.context_id,
                        status=TaskStatus(state="working", timestamp=_now()),
                        metadata={PROGRESS_METADATA_KEY: event.progress.model_dump(exclude_none=True)},
                    )
                )
            else:
                run.emit_text("" if run.streamed_text else event.output, last=True)
                result = event
        if result is None:
            raise PaisError("the run ended without a result")
        return result

    async def _watch(self) -> None:
        """While runs go on here, cancel each once its stored record says `canceled` (a cancel made on any replica)."""
        while self._runs:
            await asyncio.sleep(self.poll_seconds)
            for run in list(self._runs.values()):
                if run.token.cancelled:
                    continue
                try:
                    state = await self._stored_state(run.task.id)
                except PaisError as exc:
                    logger.warning("cannot check task %s for cancellation: %s", run.task.id, exc.message)
                    continue
                if state == "canceled":
                    run.token.cancel()

    async def _end_abandoned(self, lease: str) -> None:
        """End `failed` a task whose replica stopped renewing its lease, and tell its subscribers.

        A push delivery's lease that ran out (its replica died while delivering): deliver what is left.
        """
        pushed = self.push.claimed_task(lease)
        if pushed is not None:
            await self.push.replay(pushed)
            return
        task_id = lease
        record = await self.memory.get_task(task_id)
        if record is None or task_id in self._runs:
            return
        task = Task.model_validate(record)
        if task.status.state in TERMINAL_TASK_STATES:
            return
        status = TaskStatus(state="failed", message=_agent_message(task, _ABANDONED), timestamp=_now())
        if not await self._store(task.model_copy(update={"status": status}), unless_ended=True):
            return
        logger.warning("task %s was left behind by its replica; ended it failed", task_id)
        update = TaskStatusUpdateEvent(taskId=task.id, contextId=task.context_id, status=status, final=True)
        await self.memory.append_run_event(task_id, _logged(update), final=True)
        await self.push.replay(task_id)  # the dead replica may not have delivered everything


def _decisions(message: Message) -> dict[str, Any] | None:
    """The approval decisions of a message's data part `{"decisions": {...}}`; None when it has none.

    Raises:
        A2AError: the decisions are not `{"<call id>": {"approved": bool, "reason"?: str}}`.
    """
    for part in message.parts:
        data: Any = part.data if isinstance(part, DataPart) else None
        if isinstance(data, dict) and "decisions" in data:
            decisions = cast(dict[str, Any], data)["decisions"]
            if isinstance(decisions, dict):
                try:
                    return {
                        call_id: Decision.model_validate(decision).model_dump(exclude_none=True)
                        for call_id, decision in cast(dict[str, Any], decisions).items()
                    }
                except ValidationError:
                    pass
            raise A2AError(
                JsonRpcErrorCode.INVALID_PARAMS,
                'decisions must be {"<call id>": {"approved": true|false, "reason"?: "..."}} '
                "(a reason of at most 4000 characters)",
            )
    return None


def _arguments(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _logged(event: Task | TaskStatusUpdateEvent | TaskArtifactUpdateEvent | Message) -> dict[str, Any]:
    """A stream event as its run log stores it: the 0.3 JSON shape, read back with `STREAM_EVENT`."""
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)


def _working(task: Task) -> Task:
    return task.model_copy(update={"status": TaskStatus(state="working", timestamp=_now())})


def _resumed_budgets(task: Task, settings: Settings) -> Budgets | None:
    """The budgets an autonomous task resumed after approval pursues its goal on with (None: an interactive task):
    those it started with, as its first `task.working` event recorded them (the defaults once that left its log)."""
    if not task.autonomous:
        return None
    recorded = next((e.data["budgets"] for e in task.events if e.type == "task.working" and "budgets" in e.data), None)
    return Budgets.resolve(TaskBudgets.model_validate(recorded) if recorded is not None else None, settings)


def _paused_iteration(task: Task) -> int:
    """The iteration an autonomous task paused on for approval (1 for others)."""
    paused = [e.data["iteration"] for e in task.events if e.type == "autonomous.iteration.paused"]
    return paused[-1] if paused else 1


def _budget_data(budgets: Budgets) -> dict[str, Any]:
    return {
        "maxIterations": budgets.max_iterations,
        "maxRuntimeSeconds": budgets.max_runtime_seconds,
        "maxToolCalls": budgets.max_tool_calls,
        "intervalSeconds": budgets.interval_seconds,
    }


def _trim(task: Task, history_length: int | None) -> Task:
    if history_length is None or task.history is None:
        return task
    history: Sequence[Message] = task.history[-history_length:] if history_length > 0 else []
    return task.model_copy(update={"history": list(history)})
