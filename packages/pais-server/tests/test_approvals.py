"""Human approval of tool calls: the run pauses before a call that needs approval, decisions resume it."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from pais_testing.agent_processes import a2a_user_message as user_message
from pais_testing.mcp_server import McpTestServer
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call
from pais_testing.webhook_receiver import WebhookReceiver
from pydantic_ai import Agent
from pydantic_ai.tools import ToolDefinition

from pais_server.runtime._approvals import MCP_SERVER_KEY, MCP_TOOL_KEY, approval_patterns, needs_approval

from .conftest import Served, ServeFactory
from .test_a2a_server import rpc, rpc_error, sse, v1_message

ASK: list[dict[str, Any]] = [{"role": "user", "content": "Refund order 42"}]


def _shop(ran: list[str], *, requires_approval: bool = False) -> Agent[None, str]:
    agent = Agent(name="shop")

    @agent.tool_plain(requires_approval=requires_approval)
    def refund(order: str) -> str:
        """Refund an order."""
        ran.append(order)
        return f"order {order} refunded"

    return agent


def _decide(call: Any, decision: dict[str, Any]) -> list[dict[str, Any]]:
    assistant = {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]}
    return [assistant, {"role": "tool", "tool_call_id": call.id, "content": json.dumps(decision)}]


@pytest.fixture
def ran() -> list[str]:
    return []


@pytest.fixture
def shop(serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]) -> Served:
    scripted_model.handler = scripted(tool_call("refund", order="42"), "Done.")
    return serve_pais(
        _shop(ran), model_api_url=scripted_model.url, model_name="scripted", tools_require_approval="refund"
    )


def _pause(served: Served) -> tuple[Any, str, Any]:
    raw = served.openai.chat.completions.with_raw_response.create(model="m", messages=ASK)  # type: ignore[arg-type]
    body = json.loads(raw.http_response.text)
    [call] = raw.parse().choices[0].message.tool_calls or []
    return call, raw.headers["x-session-id"], body


def _resume(served: Served, session_id: str, call: Any, decision: dict[str, Any]) -> Any:
    return served.openai.chat.completions.create(
        model="m",
        messages=[*ASK, *_decide(call, decision)],  # type: ignore[list-item]
        extra_headers={"X-Session-ID": session_id},
    )


def _paused_past_the_deadline(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> tuple[Served, str, Any]:
    """A shop whose `refund` call paused with `APPROVAL_TIMEOUT_SECONDS=1` and went undecided past it."""
    scripted_model.handler = scripted(tool_call("refund", order="42"), "Done.")
    served = serve_pais(
        _shop(ran),
        model_api_url=scripted_model.url,
        model_name="scripted",
        tools_require_approval="refund",
        approval_timeout_seconds=1,
    )
    call, session_id, _ = _pause(served)
    time.sleep(1.1)
    return served, session_id, call


def test_an_approved_call_runs_once_after_the_pause(
    shop: Served, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    call, session_id, body = _pause(shop)

    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["pending_approvals"] == [call.id]
    assert call.function.name == "refund"
    assert json.loads(call.function.arguments) == {"order": "42"}
    assert ran == []  # paused before the call

    answer = _resume(shop, session_id, call, {"approved": True})

    assert answer.choices[0].message.content == "Done."
    assert ran == ["42"]
    tool_messages = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["order 42 refunded"]
    with pytest.raises(openai.BadRequestError):  # approving again: the paused run is gone
        _resume(shop, session_id, call, {"approved": True})
    assert ran == ["42"]


def test_a_denied_call_never_runs_and_the_model_sees_the_reason(
    shop: Served, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    call, session_id, _ = _pause(shop)

    answer = _resume(shop, session_id, call, {"approved": False, "reason": "order 42 was already refunded"})

    assert answer.choices[0].message.content == "Done."
    assert ran == []
    [tool_message] = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert "order 42 was already refunded" in tool_message["content"]


def test_a_new_turn_on_a_session_awaiting_approval_is_refused(shop: Served, ran: list[str]) -> None:
    call, session_id, _ = _pause(shop)

    with pytest.raises(openai.ConflictError) as caught:
        shop.openai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello?"}], extra_headers={"X-Session-ID": session_id}
        )

    assert call.id in caught.value.message
    assert _resume(shop, session_id, call, {"approved": True}).choices[0].message.content == "Done."
    assert ran == ["42"]


def test_a_decision_must_be_an_approval_object(shop: Served, ran: list[str]) -> None:
    call, session_id, _ = _pause(shop)

    with pytest.raises(openai.BadRequestError) as caught:
        _resume(shop, session_id, call, {"ok": "yes"})

    assert '{"approved": true}' in caught.value.message
    assert _resume(shop, session_id, call, {"approved": True}).choices[0].message.content == "Done."  # still paused
    assert ran == ["42"]


def test_a_streamed_pause_lists_the_calls_awaiting_approval(shop: Served, ran: list[str]) -> None:
    with shop.http.stream("POST", "/v1/chat/completions", json={"messages": ASK, "stream": True}) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]

    [call] = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls", [])]
    assert call["function"]["name"] == "refund"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["pending_approvals"] == [call["id"]]
    assert ran == []


def test_a_tool_declared_with_requires_approval_pauses(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    scripted_model.handler = scripted(tool_call("refund", order="42"), "Done.")
    served = serve_pais(_shop(ran, requires_approval=True), model_api_url=scripted_model.url, model_name="scripted")

    call, session_id, body = _pause(served)

    assert body["pending_approvals"] == [call.id]
    assert ran == []
    assert _resume(served, session_id, call, {"approved": True}).choices[0].message.content == "Done."
    assert ran == ["42"]


def test_past_the_approval_timeout_the_call_counts_as_denied(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    served, session_id, call = _paused_past_the_deadline(serve_pais, scripted_model, ran)

    answer = _resume(served, session_id, call, {"approved": True})

    assert answer.choices[0].message.content == "Done."
    assert ran == []
    [tool_message] = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert "in time" in tool_message["content"]


@pytest.mark.parametrize(
    ("setting", "name", "server", "expected"),
    [
        ("refund", "refund", None, True),
        ("delegate_to_*", "delegate_to_worker", None, True),
        ("delegate_to_*", "refund", None, False),
        ("python-runner.*", "run_code", "python-runner", True),
        ("python-runner.*", "run_code", "other", False),
        ("python-runner.run_*", "python_runner_run_code", "python-runner", True),
        (" a , *", "anything", None, True),
        ("", "refund", None, False),
    ],
)
def test_which_tools_need_approval(setting: str, name: str, server: str | None, expected: bool) -> None:
    original = name.removeprefix("python_runner_")
    metadata = {MCP_SERVER_KEY: server, MCP_TOOL_KEY: original} if server else None
    tool = ToolDefinition(name=name, metadata=metadata)

    assert needs_approval(approval_patterns(setting), tool) is expected


@pytest.mark.redis
def test_approving_on_two_replicas_at_once_runs_the_tool_once(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, redis: RedisServer, ran: list[str]
) -> None:
    agent = _shop(ran)
    first, second = (
        serve_pais(
            agent,
            model_api_url=scripted_model.url,
            model_name="scripted",
            memory_type="redis",
            memory_redis_url=redis.url,
            session_lock_timeout_seconds=0.5,
            tools_require_approval="refund",
        )
        for _ in range(2)
    )
    scripted_model.handler = scripted(tool_call("refund", order="42"), "Done.")
    call, session_id, _ = _pause(first)
    body = {"messages": [*ASK, *_decide(call, {"approved": True})]}

    def approve(served: Served) -> int:
        return served.http.post("/v1/chat/completions", json=body, headers={"X-Session-ID": session_id}).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(approve, [first, second]))

    assert statuses[0] == 200
    assert statuses[1] in (400, 409)
    assert ran == ["42"]


def test_pending_approvals_are_listed_and_decisions_recorded(shop: Served, ran: list[str]) -> None:
    call, session_id, _ = _pause(shop)

    listed = shop.http.get("/approvals", params={"session_id": session_id}).json()["approvals"]
    assert [(a["id"], a["tool"], json.loads(a["arguments"]), a["expired"]) for a in listed] == [
        (call.id, "refund", {"order": "42"}, False)
    ]
    _resume(shop, session_id, call, {"approved": False, "reason": "no"})

    assert shop.http.get("/approvals", params={"session_id": session_id}).json()["approvals"] == []
    events = shop.events(session_id)
    assert [e["event_type"] for e in events][:2] == ["approval_requested", "approval_decided"]
    assert events[0]["content"]["id"] == call.id
    assert events[1]["content"] | {"reason": None} == {
        "id": call.id,
        "tool": "refund",
        "agent": None,
        "approved": False,
        "reason": None,
        "timed_out": False,
    }
    assert "no" in events[1]["content"]["reason"]
    assert ran == []


def _decisions(task: dict[str, Any], decisions: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "message",
        "role": "user",
        "messageId": uuid.uuid4().hex,
        "taskId": task["id"],
        "contextId": task["contextId"],
        "parts": [{"kind": "data", "data": {"decisions": decisions}}],
    }


@pytest.mark.parametrize("approved", [True, False])
def test_an_a2a_task_awaits_approval_as_input_required(
    shop: Served, scripted_model: ScriptedModelServer, ran: list[str], approved: bool
) -> None:
    task = rpc(shop, "message/send", {"message": user_message("Refund order 42", "ctx-approve")})

    assert task["status"]["state"] == "input-required"
    [data] = [p["data"] for p in task["status"]["message"]["parts"] if p["kind"] == "data"]
    [approval] = data["approvals"]
    assert (approval["tool"], approval["arguments"]) == ("refund", {"order": "42"})
    assert ran == []

    decision = {"approved": True} if approved else {"approved": False, "reason": "not today"}
    done = rpc(shop, "message/send", {"message": _decisions(task, {approval["id"]: decision})})

    assert done["id"] == task["id"]
    assert done["status"]["state"] == "completed"
    assert ran == (["42"] if approved else [])
    [tool_message] = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert ("refunded" if approved else "not today") in tool_message["content"]
    again = rpc_error(shop, "message/send", {"message": _decisions(task, {approval["id"]: {"approved": True}})})
    assert "awaits no approval" in again["message"]
    assert ran == (["42"] if approved else [])


def test_a_decision_message_may_add_a_push_config_to_the_task(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    scripted_model.handler = scripted(tool_call("refund", order="42"), "Done.")
    served = serve_pais(
        _shop(ran),
        model_api_url=scripted_model.url,
        model_name="scripted",
        tools_require_approval="refund",
        a2a_push_allowed_hosts="127.0.0.1",
    )
    task = rpc(served, "message/send", {"message": user_message("Refund order 42", "ctx-push-decision")})
    [data] = [p["data"] for p in task["status"]["message"]["parts"] if p["kind"] == "data"]
    decision = {"message": _decisions(task, {data["approvals"][0]["id"]: {"approved": True}})}
    private = {"url": "http://10.0.0.1/hook", "token": "t"}

    refused = rpc_error(served, "message/send", {**decision, "configuration": {"pushNotificationConfig": private}})
    assert refused["code"] == -32602  # refused before the pause is taken: it can still be decided
    with WebhookReceiver() as receiver:
        config = {"url": f"{receiver.base_url}/decided", "token": "t"}
        done = rpc(served, "message/send", {**decision, "configuration": {"pushNotificationConfig": config}})
        delivered = receiver.wait_for("/decided", "TASK_STATE_COMPLETED")

    assert done["status"]["state"] == "completed"
    assert [n.state for n in delivered] == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    assert ran == ["42"]


def test_the_kaos_dialect_lists_the_calls_awaiting_approval_in_the_task_events(shop: Served, ran: list[str]) -> None:
    message = {"role": "user", "parts": [{"kind": "text", "text": "Refund order 42"}], "contextId": "ctx-kaos-approve"}
    request = {"jsonrpc": "2.0", "id": "1", "method": "message/send", "params": {"message": message}}

    task = shop.http.post("/", json=request).json()["result"]  # no A2A-Version header: the KAOS dialect

    assert task["status"]["state"] == "input-required"
    [event] = [e for e in task["events"] if e["type"] == "task.input-required"]
    [approval] = event["data"]["approvals"]
    assert (approval["tool"], approval["arguments"]) == ("refund", {"order": "42"})
    assert ran == []


def test_the_responses_api_asks_with_mcp_approval_requests_and_takes_mcp_approval_responses(
    shop: Served, ran: list[str]
) -> None:
    first = shop.openai.responses.create(model="m", input="Refund order 42")

    [request] = first.output
    assert request.type == "mcp_approval_request"
    assert (request.name, json.loads(request.arguments)) == ("refund", {"order": "42"})
    assert request.server_label == shop.http.get("/approvals").json()["agent"]
    assert ran == []

    decision = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = shop.openai.responses.create(model="m", previous_response_id=first.id, input=[decision])  # type: ignore[list-item]

    assert second.output_text == "Done."
    assert ran == ["42"]
    assert shop.openai.responses.retrieve(first.id).output[0].type == "mcp_approval_request"


def test_a_client_keeping_the_conversation_echoes_the_approval_request_with_its_response(
    shop: Served, ran: list[str]
) -> None:
    raw = shop.openai.responses.with_raw_response.create(model="m", input="Refund order 42", store=False)
    [request] = raw.parse().output
    assert request.type == "mcp_approval_request"

    decision = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    items = [{"role": "user", "content": "Refund order 42"}, request.model_dump(), decision]
    answer = shop.openai.responses.create(
        model="m",
        input=items,  # type: ignore[arg-type]
        store=False,
        extra_headers={"X-Session-ID": raw.headers["x-session-id"]},
    )

    assert answer.output_text == "Done."
    assert ran == ["42"]


def test_a_streamed_response_asks_for_approval_and_a_denial_reaches_the_model(
    shop: Served, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    events = list(shop.openai.responses.create(model="m", input="Refund order 42", stream=True))

    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" not in kinds
    added = [e.item for e in events if e.type == "response.output_item.added"]
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in added] == [item.type for item in done] == ["mcp_approval_request"]
    completed = events[-1]
    assert completed.type == "response.completed"
    [request] = completed.response.output
    assert request.type == "mcp_approval_request"

    decision = {
        "type": "mcp_approval_response",
        "approval_request_id": request.id,
        "approve": False,
        "reason": "order 42 was refunded already",
    }
    second = shop.openai.responses.create(model="m", previous_response_id=completed.response.id, input=[decision])  # type: ignore[list-item]

    assert second.output_text == "Done."
    assert ran == []
    [tool_message] = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert "order 42 was refunded already" in tool_message["content"]


def test_a_new_turn_past_the_deadline_drops_the_pause_as_denied(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    served, session_id, _ = _paused_past_the_deadline(serve_pais, scripted_model, ran)

    scripted_model.handler = scripted("Hello again.")
    answer = served.openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello?"}], extra_headers={"X-Session-ID": session_id}
    )

    assert answer.choices[0].message.content == "Hello again."
    decided = [e["content"] for e in served.events(session_id) if e["event_type"] == "approval_decided"]
    assert [(d["approved"], d["timed_out"]) for d in decided] == [(False, True)]
    assert ran == []


def _tool_calls_seen(server: McpTestServer) -> list[Any]:
    bodies = [json.loads(request["body"]) for request in server.requests() if request["body"]]
    return [body for body in bodies if isinstance(body, dict) and body.get("method") == "tools/call"]


def test_an_mcp_servers_tools_need_approval_by_server_name(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    with McpTestServer() as tools:
        scripted_model.handler = scripted(tool_call("add", a=1, b=2), "It is 3.")
        served = serve_pais(
            model_api_url=scripted_model.url,
            model_name="scripted",
            mcp_servers=[{"name": "python-runner", "url": tools.base_url}],
            tools_require_approval="python-runner.*",
        )

        call, session_id, body = _pause(served)
        assert body["pending_approvals"] == [call.id]
        assert _tool_calls_seen(tools) == []  # the MCP server saw no call

        assert _resume(served, session_id, call, {"approved": True}).choices[0].message.content == "It is 3."
        assert len(_tool_calls_seen(tools)) == 1


def test_a2a_1_0_shows_the_pause_and_a_streamed_decision_resumes_it(shop: Served, ran: list[str]) -> None:
    sent = rpc(shop, "SendMessage", {"message": v1_message("Refund order 42", "ctx-v1-approve")})["task"]

    assert sent["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    [data] = [p["data"] for p in sent["status"]["message"]["parts"] if "data" in p]
    [approval] = data["approvals"]
    events = sse(shop, "message/stream", {"message": _decisions(sent, {approval["id"]: {"approved": True}})})

    assert ran == ["42"]
    assert events[-1]["status"]["state"] == "completed"
