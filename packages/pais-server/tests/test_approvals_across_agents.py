"""Approvals across agents: a sub-agent's call awaiting approval pauses its delegating agents too.

Real processes on loopback: an orchestrator delegates to worker-a and worker-b, worker-a delegates
to worker-b, and only worker-b's MCP tool `echo` needs approval. The orchestrator and worker-a run
the e2e suite's scripted model (`@worker-b <task>` delegates); worker-b's model calls `echo` with
its task (twice when the task says `twice`) and then answers with what the tool returned.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pais_testing.agent_processes import AgentProcess, AgentProcesses
from pais_testing.e2e_model import RESULT_PREFIX, orchestrator_model
from pais_testing.mcp_server import McpTestServer
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, tool_call
from pydantic_ai import ToolDenied

from pais_server.runtime._deferred import PausedRun, PendingCall, deferred_results

a2a = pytest.importorskip("a2a", reason="needs the a2a-sdk dev dependency")

from a2a.client import A2ACardResolver, ClientConfig, ClientFactory  # noqa: E402
from a2a.helpers import get_artifact_text, new_text_message  # noqa: E402
from a2a.types import a2a_pb2 as pb  # noqa: E402
from google.protobuf import json_format, struct_pb2  # noqa: E402


def _tool_results(call: ModelCall) -> list[str]:
    last_user = max((i for i, m in enumerate(call.messages) if m.get("role") == "user"), default=-1)
    return [str(m.get("content")) for m in call.messages[last_user + 1 :] if m.get("role") == "tool"]


def worker_b_model(call: ModelCall) -> Reply:
    results, task = _tool_results(call), call.last_user_text
    if len(results) < (2 if "twice" in task else 1):
        return tool_call("echo", text=f"{task} #{len(results) + 1}")
    return Reply(text="worker-b: " + " | ".join(results))


def model_env(model: ScriptedModelServer) -> dict[str, str]:
    return {"MODEL_API_URL": model.url, "MODEL_NAME": "scripted", "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def tools() -> Iterator[McpTestServer]:
    with McpTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def models() -> Iterator[dict[str, ScriptedModelServer]]:
    with (
        ScriptedModelServer(orchestrator_model) as orchestrator,
        ScriptedModelServer(orchestrator_model) as worker_a,
        ScriptedModelServer(worker_b_model) as worker_b,
    ):
        yield {"orchestrator": orchestrator, "worker-a": worker_a, "worker-b": worker_b}


@pytest.fixture(scope="module")
def agents(models: dict[str, ScriptedModelServer], tools: McpTestServer) -> Iterator[dict[str, AgentProcess]]:
    with AgentProcesses() as processes:
        worker_b = processes.start(
            "worker-b",
            {
                **model_env(models["worker-b"]),
                "MCP_SERVERS": "tools",
                "MCP_SERVER_TOOLS_URL": tools.base_url,
                "TOOLS_REQUIRE_APPROVAL": "tools.echo",
            },
        )
        worker_a = processes.start(
            "worker-a", {**model_env(models["worker-a"]), "AGENT_SUB_AGENTS": f"worker-b:{worker_b.url}"}
        )
        sub_agents = f"worker-a:{worker_a.url},worker-b:{worker_b.url}"
        orchestrator = processes.start(
            "orchestrator", {**model_env(models["orchestrator"]), "AGENT_SUB_AGENTS": sub_agents}
        )
        yield {"orchestrator": orchestrator, "worker-a": worker_a, "worker-b": worker_b}


def echoed(tools: McpTestServer, marker: str) -> list[str]:
    """The texts `echo` ran with that contain `marker`."""
    bodies = [json.loads(request["body"]) for request in tools.requests() if request["body"]]
    calls = [b["params"] for b in bodies if isinstance(b, dict) and b.get("method") == "tools/call"]
    return [c["arguments"]["text"] for c in calls if c["name"] == "echo" and marker in c["arguments"]["text"]]


def chat(agent: AgentProcess, messages: list[dict[str, Any]], session_id: str) -> dict[str, Any]:
    response = agent.http.post(
        "/v1/chat/completions", json={"messages": messages}, headers={"X-Session-ID": session_id}
    )
    assert response.status_code == 200, response.text
    return response.json()


def decide(ask: list[dict[str, Any]], body: dict[str, Any], decision: dict[str, Any]) -> list[dict[str, Any]]:
    """`ask`, the paused answer and one decision per call awaiting approval."""
    calls = body["choices"][0]["message"]["tool_calls"]
    assistant = {"role": "assistant", "content": None, "tool_calls": calls}
    answers = [{"role": "tool", "tool_call_id": c["id"], "content": json.dumps(decision)} for c in calls]
    return [*ask, assistant, *answers]


def pending(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    calls = body["choices"][0]["message"]["tool_calls"]
    assert body["pending_approvals"] == [c["id"] for c in calls]
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


def asked(model: ScriptedModelServer, text: str) -> int:
    """How many requests the model got in conversations whose last user message is `text`."""
    return sum(1 for call in model.calls if call.last_user_text == text)


def test_a_workers_pending_call_pauses_the_orchestrator_and_runs_once_approved(
    agents: dict[str, AgentProcess], models: dict[str, ScriptedModelServer], tools: McpTestServer
) -> None:
    orchestrator, session = agents["orchestrator"], f"approve-{uuid.uuid4().hex[:8]}"
    ask = [{"role": "user", "content": "@worker-b approve-me"}]

    paused = chat(orchestrator, ask, session)

    assert pending(paused) == [("echo", {"text": "approve-me #1"})]
    [call_id] = paused["pending_approvals"]
    assert call_id.startswith("worker-b:")
    assert echoed(tools, "approve-me") == []  # the worker's tool has not run
    listed = orchestrator.http.get("/approvals", params={"session_id": session}).json()["approvals"]
    assert [(a["id"], a["tool"], a["agent"]) for a in listed] == [(call_id, "echo", "worker-b")]

    done = chat(orchestrator, decide(ask, paused, {"approved": True}), session)

    assert done["choices"][0]["message"]["content"] == f"{RESULT_PREFIX} worker-b: approve-me #1"
    assert echoed(tools, "approve-me") == ["approve-me #1"]
    assert asked(models["orchestrator"], "@worker-b approve-me") == 2  # delegated once, then answered
    decided = [e["content"] for e in orchestrator.events(session) if e["event_type"] == "approval_decided"]
    assert [(d["id"], d["approved"]) for d in decided] == [(call_id, True)]
    # the worker's own task was resumed by the decision, not started again
    worker_tasks = agents["worker-b"].rpc("tasks/list", {"contextId": f"{session}/worker-b"})["result"]["tasks"]
    assert [t["status"]["state"] for t in worker_tasks] == ["completed"]


def test_a_workers_call_is_decided_by_id_on_the_orchestrator(
    agents: dict[str, AgentProcess], tools: McpTestServer
) -> None:
    orchestrator, session = agents["orchestrator"], f"by-id-{uuid.uuid4().hex[:8]}"
    [call_id] = chat(orchestrator, [{"role": "user", "content": "@worker-b by-id"}], session)["pending_approvals"]

    decided = orchestrator.http.post(
        f"/approvals/{call_id}", params={"session_id": session, "wait": 60}, json={"approved": True}
    )

    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["output"]) == ("completed", f"{RESULT_PREFIX} worker-b: by-id #1")
    assert echoed(tools, "by-id") == ["by-id #1"]
    again = orchestrator.http.post(f"/approvals/{call_id}", params={"session_id": session}, json={"approved": True})
    assert again.status_code == 409
    assert echoed(tools, "by-id") == ["by-id #1"]


def test_a_denied_workers_call_never_runs_and_the_reason_reaches_the_workers_model(
    agents: dict[str, AgentProcess], models: dict[str, ScriptedModelServer], tools: McpTestServer
) -> None:
    orchestrator, session = agents["orchestrator"], f"deny-{uuid.uuid4().hex[:8]}"
    ask = [{"role": "user", "content": "@worker-b deny-me"}]
    body, headers = {"messages": ask, "stream": True}, {"X-Session-ID": session}
    with orchestrator.http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    [call] = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls") or []]
    assert (call["function"]["name"], chunks[-1]["pending_approvals"]) == ("echo", [call["id"]])
    paused = {"choices": [{"message": {"tool_calls": [call]}}]}

    done = chat(orchestrator, decide(ask, paused, {"approved": False, "reason": "not on weekends"}), session)

    assert echoed(tools, "deny-me") == []
    worker_calls = [call for call in models["worker-b"].calls if call.last_user_text == "deny-me"]
    [worker_saw] = [result for call in worker_calls for result in _tool_results(call)]
    assert "not on weekends" in worker_saw
    assert done["choices"][0]["message"]["content"] == f"{RESULT_PREFIX} worker-b: {worker_saw}"


def test_depth_two_pauses_every_agent_again_when_the_worker_pauses_again(
    agents: dict[str, AgentProcess], models: dict[str, ScriptedModelServer], tools: McpTestServer
) -> None:
    orchestrator, session = agents["orchestrator"], f"deep-{uuid.uuid4().hex[:8]}"
    ask = [{"role": "user", "content": "@worker-a @worker-b twice deep"}]

    first = chat(orchestrator, ask, session)

    assert pending(first) == [("echo", {"text": "twice deep #1"})]
    assert first["pending_approvals"][0].startswith("worker-a:worker-b:")
    listed = orchestrator.http.get("/approvals", params={"session_id": session}).json()["approvals"]
    assert [a["agent"] for a in listed] == ["worker-a/worker-b"]
    assert echoed(tools, "deep") == []

    second = chat(orchestrator, decide(ask, first, {"approved": True}), session)  # worker-b asks again

    assert pending(second) == [("echo", {"text": "twice deep #2"})]
    assert second["pending_approvals"] != first["pending_approvals"]
    assert echoed(tools, "deep") == ["twice deep #1"]

    done = chat(orchestrator, decide(ask, second, {"approved": True}), session)

    answer = f"{RESULT_PREFIX} {RESULT_PREFIX} worker-b: twice deep #1 | twice deep #2"
    assert done["choices"][0]["message"]["content"] == answer
    assert echoed(tools, "deep") == ["twice deep #1", "twice deep #2"]
    assert asked(models["orchestrator"], ask[0]["content"]) == 2  # never re-asked to delegate
    assert asked(models["worker-a"], "@worker-b twice deep") == 2


def approval_events(agent: AgentProcess, session: str) -> list[tuple[str, str, str | None]]:
    """The session's approval events: (type, call id, agent path)."""
    events = [e for e in agent.events(session) if e["event_type"].startswith("approval_")]
    return [(e["event_type"], e["content"]["id"], e["content"]["agent"]) for e in events]


def test_memory_records_the_agent_path_of_a_sub_agents_call(
    agents: dict[str, AgentProcess], tools: McpTestServer
) -> None:
    orchestrator, session = agents["orchestrator"], f"path-{uuid.uuid4().hex[:8]}"
    [call_id] = chat(orchestrator, [{"role": "user", "content": "@worker-a @worker-b path"}], session)[
        "pending_approvals"
    ]

    decided = orchestrator.http.post(
        f"/approvals/{call_id}", params={"session_id": session, "wait": 60}, json={"approved": True}
    )

    assert decided.json()["status"] == "completed", decided.text
    assert echoed(tools, "path") == ["path #1"]
    assert approval_events(orchestrator, session) == [
        ("approval_requested", call_id, "worker-a/worker-b"),
        ("approval_decided", call_id, "worker-a/worker-b"),
    ]
    worker_b = agents["worker-b"]
    [own_session] = [s for s in worker_b.sessions() if s.startswith(session)]
    own_id = call_id.removeprefix("worker-a:worker-b:")
    assert approval_events(worker_b, own_session) == [  # worker-b's own call: no path
        ("approval_requested", own_id, None),
        ("approval_decided", own_id, None),
    ]


async def test_over_a2a_the_orchestrators_task_awaits_the_workers_call_as_input_required(
    agents: dict[str, AgentProcess], tools: McpTestServer
) -> None:
    orchestrator = agents["orchestrator"]
    async with httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, orchestrator.url).get_agent_card()
    client = ClientFactory(ClientConfig(streaming=False)).create(card)
    ask = new_text_message("@worker-b over-a2a", context_id=f"a2a-{uuid.uuid4().hex[:8]}", role=pb.Role.ROLE_USER)
    try:
        [sent] = [event async for event in client.send_message(pb.SendMessageRequest(message=ask))]
        task = sent.task
        assert task.status.state == pb.TASK_STATE_INPUT_REQUIRED
        [data] = [json_format.MessageToDict(p.data) for p in task.status.message.parts if p.HasField("data")]
        [approval] = data["approvals"]
        assert (approval["tool"], approval["arguments"], approval["agent"]) == (
            "echo",
            {"text": "over-a2a #1"},
            "worker-b",
        )
        assert echoed(tools, "over-a2a") == []

        decisions = json_format.ParseDict({"decisions": {approval["id"]: {"approved": True}}}, struct_pb2.Value())
        answer = pb.Message(
            message_id=uuid.uuid4().hex,
            task_id=task.id,
            context_id=task.context_id,
            role=pb.Role.ROLE_USER,
            parts=[pb.Part(data=decisions)],
        )
        [resumed] = [event async for event in client.send_message(pb.SendMessageRequest(message=answer))]
    finally:
        await client.close()

    assert resumed.task.id == task.id
    assert resumed.task.status.state == pb.TASK_STATE_COMPLETED
    assert get_artifact_text(resumed.task.artifacts[0]) == f"{RESULT_PREFIX} worker-b: over-a2a #1"
    assert echoed(tools, "over-a2a") == ["over-a2a #1"]


def test_a_new_turn_past_the_deadline_sends_the_denials_down(
    agents: dict[str, AgentProcess], models: dict[str, ScriptedModelServer], tools: McpTestServer
) -> None:
    worker_b, session = agents["worker-b"], f"late-{uuid.uuid4().hex[:8]}"
    env = {
        **model_env(models["orchestrator"]),
        "AGENT_SUB_AGENTS": f"worker-b:{worker_b.url}",
        "APPROVAL_TIMEOUT_SECONDS": "1",
    }
    with AgentProcesses() as processes:
        orchestrator = processes.start("hasty-orchestrator", env)
        pending(chat(orchestrator, [{"role": "user", "content": "@worker-b too-late"}], session))
        time.sleep(1.1)

        assert orchestrator.answer("hello", session_id=session) == "orchestrator heard: hello"

    def worker_states() -> list[str]:
        tasks = worker_b.rpc("tasks/list", {"contextId": f"{session}/worker-b"})["result"]["tasks"]
        return [task["status"]["state"] for task in tasks]

    deadline = time.monotonic() + 30
    while worker_states() != ["completed"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker_states() == ["completed"]  # the worker's task took the denials and ended
    assert echoed(tools, "too-late") == []
    [worker_saw] = [
        r for call in models["worker-b"].calls if call.last_user_text == "too-late" for r in _tool_results(call)
    ]
    assert "in time" in worker_saw


def test_past_the_deadline_a_workers_calls_are_sent_down_as_denials() -> None:
    delegated = [
        PendingCall(f"worker-b:{n}", "echo", "{}", "delegated", agent="worker-b", via="delegate-1") for n in "ab"
    ]
    paused = PausedRun(
        session_id="s",
        prompt="p",
        messages=[],
        turn_start=0,
        pending=delegated,
        metadata={"delegate-1": {"pais_delegation_paused": {"agent": "worker-b", "task_id": "t"}}},
        approval_deadline=0.0,
    )

    results = deferred_results(paused, {"worker-b:a": json.dumps({"approved": True})})

    assert results.approvals == {"delegate-1": True}  # the delegation resumes, to send the denials down
    sent = results.metadata["delegate-1"]["pais_delegation_decisions"]
    assert {call_id: d["approved"] for call_id, d in sent.items()} == {"worker-b:a": False, "worker-b:b": False}
    assert all("in time" in d["reason"] for d in sent.values())
    assert results.metadata["delegate-1"]["pais_delegation_paused"]["task_id"] == "t"
    assert not isinstance(results.approvals["delegate-1"], ToolDenied)
