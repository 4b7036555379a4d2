"""Delegation between real PAIS servers (processes on loopback) over A2A, with scripted models.

An orchestrator delegates to worker-a and worker-b. The orchestrator's model is the e2e suite's
(`@worker-a <task>` delegates, a tool result is answered `Delegated result: <result>`); worker-a's
model answers only from the conversation the orchestrator forwarded; worker-b's model sleeps on
`(sleepy)` tasks.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pais_testing.agent_processes import AgentProcess, AgentProcesses
from pais_testing.e2e_model import RESULT_PREFIX, orchestrator_model
from pais_testing.ports import free_port
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer

SECRET = "PAPAYA-42"
SLEEPY = "(sleepy)"
SLEEP_SECONDS = 5.0
DELEGATION_TIMEOUT = 2.0
_CODE = re.compile(r"code is (\S+)")


def worker_a_model(call: ModelCall) -> Reply:
    """Answers with the code found in the messages before the task (the forwarded context), never in the task."""
    texts = [str(m.get("content") or "") for m in call.messages if m.get("role") in ("user", "assistant")]
    found = next((m.group(1) for text in texts[:-1] if (m := _CODE.search(text))), None)
    return Reply(text=f"worker-a found {found}" if found else "worker-a found nothing")


def worker_b_model(call: ModelCall) -> Reply:
    if SLEEPY in call.last_user_text:
        return Reply(text="worker-b woke up", delay=SLEEP_SECONDS)
    return Reply(text=f"worker-b did: {call.last_user_text}")


def model_env(model: ScriptedModelServer) -> dict[str, str]:
    return {"MODEL_API_URL": model.url, "MODEL_NAME": "scripted", "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def models() -> Iterator[dict[str, ScriptedModelServer]]:
    with (
        ScriptedModelServer(orchestrator_model) as orchestrator,
        ScriptedModelServer(worker_a_model) as worker_a,
        ScriptedModelServer(worker_b_model) as worker_b,
    ):
        yield {"orchestrator": orchestrator, "worker-a": worker_a, "worker-b": worker_b}


@pytest.fixture(scope="module")
def agents(models: dict[str, ScriptedModelServer]) -> Iterator[dict[str, AgentProcess]]:
    with AgentProcesses() as processes:
        worker_a = processes.start("worker-a", {**model_env(models["worker-a"]), "AGENT_DESCRIPTION": "Knows codes"})
        worker_b = processes.start("worker-b", model_env(models["worker-b"]))
        orchestrator = processes.start(
            "orchestrator",
            {
                **model_env(models["orchestrator"]),
                "AGENT_SUB_AGENTS": f"worker-a:{worker_a.url},worker-b:{worker_b.url}",
                "DELEGATION_TIMEOUT_SECONDS": str(DELEGATION_TIMEOUT),
            },
        )
        yield {"orchestrator": orchestrator, "worker-a": worker_a, "worker-b": worker_b}


def new_session() -> str:
    return f"orch-{uuid.uuid4().hex[:12]}"


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == event_type]


def assert_healthy(agent: AgentProcess) -> None:
    assert agent.http.get("/ready").status_code == 200
    assert agent.answer("are you there?") == "orchestrator heard: are you there?"


def test_worker_a_answers_from_the_forwarded_context_over_a2a(
    agents: dict[str, AgentProcess], models: dict[str, ScriptedModelServer]
) -> None:
    orchestrator, worker = agents["orchestrator"], agents["worker-a"]
    session = new_session()
    assert orchestrator.answer(f"the secret code is {SECRET}", session_id=session).endswith(SECRET)

    answer = orchestrator.answer("@worker-a which secret code did I give you?", session_id=session)

    assert answer == f"{RESULT_PREFIX} worker-a found {SECRET}"
    task_call = models["worker-a"].calls[-1]
    assert task_call.last_user_text == "which secret code did I give you?"  # the task itself has no code
    # the orchestrator's memory: the delegation and its successful result, before the final answer
    events = orchestrator.events(session)
    assert [e["event_type"] for e in events] == [
        "user_message",
        "agent_response",
        "user_message",
        "delegation_request",
        "delegation_response",
        "agent_response",
    ]
    request, response = of_type(events, "delegation_request")[0], of_type(events, "delegation_response")[0]
    assert request["content"]["target"] == "worker-a"
    assert request["content"]["arguments"] == {"task": "which secret code did I give you?"}
    assert response["content"]["target"] == "worker-a"
    assert response["content"]["success"] is True
    assert SECRET in response["content"]["result"]
    # the worker's memory: the received task in the sub-session derived from the orchestrator's
    sub_session = f"{session}/worker-a"
    assert sub_session in worker.sessions()
    worker_events = worker.events(sub_session)
    assert [e["event_type"] for e in worker_events] == ["task_delegation_received", "agent_response"]
    assert worker_events[0]["content"] == "which secret code did I give you?"
    assert worker_events[1]["content"] == f"worker-a found {SECRET}"
    # the hop went over A2A: the worker holds a completed task in that context
    listed = worker.rpc("tasks/list", {"contextId": sub_session})["result"]["tasks"]
    assert [t["status"]["state"] for t in listed] == ["completed"]


def test_streaming_shows_the_delegation_target_and_step(agents: dict[str, AgentProcess]) -> None:
    orchestrator = agents["orchestrator"]
    body = {"messages": [{"role": "user", "content": "@worker-b wave"}], "stream": True}
    chunks: list[dict[str, Any]] = []
    with orchestrator.http.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunks.append(json.loads(line.removeprefix("data: ")))
    progress = [c["progress"] for c in chunks if c.get("progress")]
    assert [(p["type"], p["target"], p["step"]) for p in progress] == [
        ("delegation", "worker-b", 1),
        ("delegation_result", "worker-b", 1),
    ]
    assert progress[1]["success"] is True
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == f"{RESULT_PREFIX} worker-b did: wave"


def test_a_worker_slower_than_the_timeout_is_a_tool_error(agents: dict[str, AgentProcess]) -> None:
    orchestrator = agents["orchestrator"]
    session = new_session()
    started = time.monotonic()
    answer = orchestrator.answer(f"@worker-b {SLEEPY} count the stars", session_id=session)
    assert time.monotonic() - started < SLEEP_SECONDS
    assert answer.startswith(RESULT_PREFIX)
    assert f"timed out after {DELEGATION_TIMEOUT:g}s" in answer
    response = of_type(orchestrator.events(session), "delegation_response")[0]
    assert response["content"]["target"] == "worker-b"
    assert response["content"]["success"] is False
    assert "timed out" in response["content"]["result"]
    assert_healthy(orchestrator)


def test_a_worker_killed_mid_run_is_a_tool_error(models: dict[str, ScriptedModelServer]) -> None:
    with AgentProcesses() as processes:
        victim = processes.start("worker-b", model_env(models["worker-b"]))
        orchestrator = processes.start(
            "orchestrator", {**model_env(models["orchestrator"]), "AGENT_SUB_AGENTS": f"worker-b:{victim.url}"}
        )
        session = new_session()
        calls_before = len(models["worker-b"].calls)
        answers: list[str] = []
        chat = threading.Thread(
            target=lambda: answers.append(orchestrator.answer(f"@worker-b {SLEEPY} dig a hole", session_id=session))
        )
        chat.start()
        deadline = time.monotonic() + 30
        while len(models["worker-b"].calls) == calls_before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(models["worker-b"].calls) > calls_before, "the worker never ran the task"
        victim.process.signal(signal.SIGKILL)
        chat.join(30)

        assert answers, "the orchestrator did not answer"
        assert answers[0].startswith(RESULT_PREFIX)
        assert "worker-b" in answers[0]
        response = of_type(orchestrator.events(session), "delegation_response")[0]
        assert response["content"]["target"] == "worker-b"
        assert response["content"]["success"] is False
        assert_healthy(orchestrator)


def test_a_delegation_cycle_stops_at_the_maximum_depth() -> None:
    ports = {"loop-a": free_port(), "loop-b": free_port()}

    def env(me: str, other: str) -> dict[str, str]:
        script = [
            {"tool_calls": [{"name": f"delegate_to_{other.replace('-', '_')}", "arguments": {"task": "pass it on"}}]}
        ]
        return {
            "DEBUG_MOCK_RESPONSES": json.dumps([*script, f"{me} done"]),
            "AGENT_SUB_AGENTS": f"{other}:http://127.0.0.1:{ports[other]}",
            "DELEGATION_MAX_DEPTH": "3",
            "LOG_LEVEL": "WARNING",
        }

    with AgentProcesses() as processes:
        loop_a = processes.start("loop-a", env("loop-a", "loop-b"), port=ports["loop-a"])
        loop_b = processes.start("loop-b", env("loop-b", "loop-a"), port=ports["loop-b"])
        started = time.monotonic()
        assert loop_a.answer("start the loop", session_id="cycle") == "loop-a done"
        assert time.monotonic() - started < 30

        # depth 0 (loop-a) -> 1 (loop-b) -> 2 (loop-a) -> 3 (loop-b), whose delegation is refused
        assert "cycle/loop-b/loop-a" in loop_a.sessions()
        deepest = loop_b.events("cycle/loop-b/loop-a/loop-b")
        assert deepest[0]["event_type"] == "task_delegation_received"
        refused = of_type(deepest, "delegation_response")[0]
        assert refused["content"]["success"] is False
        assert "maximum delegation depth (3)" in refused["content"]["result"]
        for session, agent in (("cycle", loop_a), ("cycle/loop-b", loop_b), ("cycle/loop-b/loop-a", loop_a)):
            assert of_type(agent.events(session), "delegation_response")[0]["content"]["success"] is True
        assert not any(s.count("/") > 3 for s in loop_a.sessions() + loop_b.sessions())
