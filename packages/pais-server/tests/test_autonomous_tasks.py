"""Autonomous A2A tasks as the KAOS UI and CLI start them: iterations on one session, budgets, cancel."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pais_testing.kaos_clients import KaosA2A, kaos_send_params
from pais_testing.ports import free_port
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, tool_call
from pydantic_ai import Agent

from .conftest import Served, ServeFactory


def stepping_agent() -> Agent[None, str]:
    agent = Agent(name="stepper")

    @agent.tool_plain
    def step(note: str) -> str:
        """Record one step towards the goal."""
        return f"noted {note}"

    return agent


def act_then_report(call: ModelCall) -> Reply:
    """Each iteration (a new user prompt) calls the tool once, then reports which iteration it saw."""
    after_prompt = call.messages[max(i for i, m in enumerate(call.messages) if m["role"] == "user") + 1 :]
    if not any(m["role"] == "tool" for m in after_prompt):
        return tool_call("step", note="x")
    return Reply(text=f"report {len(call.text_of('user'))}", delay=0.05)


@pytest.fixture
def kaos(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> KaosA2A:
    scripted_model.handler = act_then_report
    served = serve_pais(stepping_agent(), model_api_url=scripted_model.url, model_name="scripted")
    return KaosA2A(served.http)


def wait_until_ended(kaos: KaosA2A, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (task := kaos.get(task_id))["status"]["state"] in ("submitted", "working") and time.monotonic() < deadline:
        time.sleep(0.05)
    return task


def events(task: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(e["type"], e["data"].get("iteration", e["data"].get("reason"))) for e in task["events"]]


def test_max_iterations_two_completes_with_two_iterations(kaos: KaosA2A, scripted_model: ScriptedModelServer) -> None:
    params = kaos_send_params(
        "tidy the notes", context_id="auto-1", mode="autonomous", budgets={"maxIterations": 2, "maxToolCalls": 50}
    )
    started = kaos.send(params)
    assert started["status"]["state"] == "working"  # answered at once, the iterations run in the background
    assert started["autonomous"] is True
    assert started["sessionId"] == "auto-1"

    task = wait_until_ended(kaos, started["id"])
    assert task["status"]["state"] == "completed"
    assert events(task) == [
        ("task.submitted", None),
        ("task.working", None),
        ("autonomous.iteration.started", 1),
        ("autonomous.iteration.completed", 1),
        ("autonomous.iteration.started", 2),
        ("autonomous.iteration.completed", 2),
        ("autonomous.budget.exhausted", "max_iterations"),
        ("task.completed", None),
    ]
    # the second iteration saw the first one: its prompt is the second user message of the session
    assert task["output"] == "report 2"
    assert [m["role"] for m in task["history"]] == ["user", "agent"]
    assert [e["data"]["tool_calls"] for e in task["events"] if e["type"] == "autonomous.iteration.completed"] == [1, 1]
    assert "tidy the notes" in scripted_model.calls[-1].text_of("user")[1]


def test_an_iteration_without_tool_calls_ends_the_goal(kaos: KaosA2A, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = lambda call: Reply(text="all done")
    started = kaos.send(kaos_send_params("say hi", mode="autonomous"))
    task = wait_until_ended(kaos, started["id"])
    assert task["status"]["state"] == "completed"
    assert task["output"] == "all done"
    assert [kind for kind, _ in events(task)][2:] == [
        "autonomous.iteration.started",
        "autonomous.iteration.completed",
        "task.completed",
    ]


def test_the_tool_call_budget_ends_the_run_with_the_last_output(kaos: KaosA2A) -> None:
    started = kaos.send(kaos_send_params("work", mode="autonomous", budgets={"maxIterations": 0, "maxToolCalls": 1}))
    task = wait_until_ended(kaos, started["id"])
    assert task["status"]["state"] == "completed"
    assert events(task)[-2:] == [("autonomous.budget.exhausted", "max_tool_calls"), ("task.completed", None)]
    assert task["output"] == "report 1"


def test_the_runtime_budget_ends_the_run_between_iterations(kaos: KaosA2A) -> None:
    budgets = {"maxIterations": 0, "maxToolCalls": 0, "maxRuntimeSeconds": 0.3, "intervalSeconds": 0.2}
    started = kaos.send(kaos_send_params("work", mode="autonomous", budgets=budgets))
    task = wait_until_ended(kaos, started["id"])
    assert task["status"]["state"] == "completed"
    kinds = [kind for kind, _ in events(task)]
    assert kinds.count("autonomous.iteration.completed") >= 1
    assert events(task)[-2:] == [("autonomous.budget.exhausted", "max_runtime_seconds"), ("task.completed", None)]


def test_negative_budgets_are_invalid_params(kaos: KaosA2A) -> None:
    answer = kaos.call("SendMessage", kaos_send_params("work", mode="autonomous", budgets={"maxIterations": -1}))
    assert answer["error"]["code"] == -32602
    assert "maxIterations" in answer["error"]["message"]


def test_an_unbounded_task_works_until_canceled(kaos: KaosA2A, scripted_model: ScriptedModelServer) -> None:
    unbounded = {"maxIterations": 0, "maxRuntimeSeconds": 0, "maxToolCalls": 0, "intervalSeconds": 0.05}
    started = kaos.send(kaos_send_params("keep going", mode="autonomous", budgets=unbounded))
    time.sleep(2)
    running = kaos.get(started["id"])
    assert running["status"]["state"] == "working"
    assert ("autonomous.iteration.completed", 2) in events(running)

    canceled = kaos.cancel(started["id"])
    assert canceled["status"]["state"] == "canceled"
    deadline = time.monotonic() + 5
    calls = -1
    while calls != len(scripted_model.calls) and time.monotonic() < deadline:  # the loop stops calling the model
        calls = len(scripted_model.calls)
        time.sleep(0.5)
    assert calls == len(scripted_model.calls)
    final = kaos.get(started["id"])
    assert final["status"]["state"] == "canceled"
    assert events(final)[-1] == ("task.canceled", "canceled by request")


def test_autonomous_tasks_cannot_be_streamed(kaos: KaosA2A) -> None:
    answer = kaos.call("SendStreamingMessage", kaos_send_params("go", mode="autonomous"))
    assert answer["error"]["code"] == -32004


def test_the_start_up_goal_runs_once(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = lambda call: Reply(text="goal reached")
    served: Served = serve_pais(
        model_api_url=scripted_model.url, model_name="scripted", autonomous_goal="watch the queue"
    )
    kaos = KaosA2A(served.http)
    [task] = kaos.list()["tasks"]
    assert task["autonomous"] is True
    assert task["history"][0]["parts"][0]["text"] == "watch the queue"
    assert wait_until_ended(kaos, task["id"])["output"] == "goal reached"


def test_a_start_up_goal_that_cannot_be_claimed_leaves_the_server_serving(serve_pais: ServeFactory) -> None:
    down = f"redis://127.0.0.1:{free_port()}"
    served = serve_pais(memory_type="redis", memory_redis_url=down, autonomous_goal="watch the queue")
    assert served.http.get("/health").status_code == 200
    assert served.http.get("/ready").status_code == 503
