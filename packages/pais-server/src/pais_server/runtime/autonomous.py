"""Autonomous runs: the agent pursues a goal in iterations on one session, within budgets.

Protocol-agnostic: the caller (the A2A task store today) supplies the run input, a cancellation
token and a `RecordEvent` callback that persists each lifecycle event where its clients read it.
A run acts for the principal that started it (its context's); the start-up goal (`AUTONOMOUS_GOAL`)
acts for the agent itself, `goal_principal`. An iteration that calls a tool needing approval pauses
the run; once decided, that iteration resumes and the pursuit goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic_ai import CancellationToken

from pais_core import PaisError, Principal, Settings, TaskBudgets, UpstreamTimeoutError

from ._runner import AgentRunner, RunInput, RunResult

__all__ = ["Budgets", "RecordEvent", "goal_principal", "pursue"]

RecordEvent = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Persist one lifecycle event (`autonomous.iteration.started`, ...) with its data."""

_PAUSE_SLICE = 0.1
_OUTPUT_PREVIEW = 1000
"""Characters of an iteration's output kept in its event (the last one is the task's answer, whole)."""


@dataclass(frozen=True)
class Budgets:
    """The limits of one autonomous run; `0` means unlimited for the first three."""

    max_iterations: int
    max_runtime_seconds: float
    max_tool_calls: int
    interval_seconds: float
    max_iteration_seconds: float

    @classmethod
    def resolve(cls, asked: TaskBudgets | None, settings: Settings) -> Budgets:
        """The budgets a request asked for, the `TASK_MAX_*` / `AUTONOMOUS_*` defaults for the rest."""
        asked = asked or TaskBudgets()

        def pick(value: float | None, default: float) -> float:
            return default if value is None else value

        return cls(
            max_iterations=int(pick(asked.max_iterations, settings.task_max_iterations)),
            max_runtime_seconds=pick(asked.max_runtime_seconds, settings.task_max_runtime_seconds),
            max_tool_calls=int(pick(asked.max_tool_calls, settings.task_max_tool_calls)),
            interval_seconds=pick(asked.interval_seconds, settings.autonomous_interval_seconds),
            max_iteration_seconds=settings.autonomous_max_iter_runtime_seconds,
        )

    def exhausted(self, *, iterations: int, tool_calls: int, elapsed: float) -> dict[str, Any] | None:
        """Why no further iteration may start (the data of `autonomous.budget.exhausted`), or None."""
        if self.max_iterations and iterations >= self.max_iterations:
            return {"reason": "max_iterations", "limit": self.max_iterations, "iterations": iterations}
        if self.max_runtime_seconds and elapsed >= self.max_runtime_seconds:
            return {"reason": "max_runtime_seconds", "limit": self.max_runtime_seconds, "elapsed": round(elapsed, 3)}
        if self.max_tool_calls and tool_calls >= self.max_tool_calls:
            return {"reason": "max_tool_calls", "limit": self.max_tool_calls, "tool_calls": tool_calls}
        return None


def goal_principal(settings: Settings) -> Principal:
    """Who `AUTONOMOUS_GOAL` runs as: the agent itself (`AGENT_AUTH_IDENTITY`, else `AGENT_NAME`).

    It owns the goal's task and session, is recorded as who asked for approvals, and its outbound
    calls carry the agent's own token as the subject.
    """
    return Principal(id=settings.agent_identity, agent=True)


def _next_prompt(goal: str, iteration: int) -> str:
    return (
        f"Iteration {iteration} towards the goal: {goal}\n"
        "Your earlier iterations are above. Take the next step. When the goal is reached, give the final"
        " answer without calling any tool."
    )


async def pursue(
    runner: AgentRunner, inp: RunInput, budgets: Budgets, record: RecordEvent, *, iteration: int = 1
) -> RunResult:
    """Run `inp.prompt` as a goal, one agent run per iteration on `inp.session_id`; the last run's result.

    Ends when an iteration calls no tool (the model answered instead of acting: the goal is done),
    pauses on calls awaiting approval (the result's `pending_approvals`; decisions come back as
    `inp.tool_results`, which resume that iteration, numbered `iteration`, before the pursuit goes
    on), or a budget is exhausted (after recording `autonomous.budget.exhausted`). Iterations count
    from the goal's first; tool calls and runtime from this call.

    Raises:
        PaisError: an iteration failed, took longer than `max_iteration_seconds`, or the run was
            cancelled (`inp.cancellation`).
    """
    token = inp.cancellation or CancellationToken()
    started = time.monotonic()
    iterations, tool_calls = iteration - 1, 0
    result = RunResult(output="", usage=None)
    while True:
        _check(token)
        reason = budgets.exhausted(iterations=iterations, tool_calls=tool_calls, elapsed=time.monotonic() - started)
        if reason is not None:
            await record("autonomous.budget.exhausted", reason)
            return result
        iterations += 1
        first = iterations == iteration
        resumed = first and inp.tool_results is not None
        await record("autonomous.iteration.started", {"iteration": iterations} | ({"resumed": True} if resumed else {}))
        prompt = inp.prompt if iterations == 1 or resumed else _next_prompt(inp.prompt, iterations)
        step = replace(inp, prompt=prompt, cancellation=token, tool_results=inp.tool_results if resumed else None)
        try:
            async with asyncio.timeout(budgets.max_iteration_seconds):
                result = await runner.run(step)
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"iteration {iterations} took longer than AUTONOMOUS_MAX_ITER_RUNTIME_SECONDS"
                f"={budgets.max_iteration_seconds:g}"
            ) from None
        if result.pending_approvals:
            await record(
                "autonomous.iteration.paused", {"iteration": iterations, "approvals": list(result.pending_approvals)}
            )
            return result
        output = result.output
        tool_calls += result.tool_call_count
        await record(
            "autonomous.iteration.completed",
            {"iteration": iterations, "tool_calls": result.tool_call_count, "output": output[:_OUTPUT_PREVIEW]},
        )
        if result.tool_call_count == 0:
            return result
        await _pause(token, budgets.interval_seconds)


def _check(token: CancellationToken) -> None:
    if token.cancelled:
        raise PaisError("the autonomous run was cancelled")


async def _pause(token: CancellationToken, seconds: float) -> None:
    """Wait `seconds`, ending early (with the cancellation error) when the run is cancelled."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        _check(token)
        await asyncio.sleep(min(left, _PAUSE_SLICE))
    _check(token)
