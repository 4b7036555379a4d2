"""Deciding calls awaiting approval by id over HTTP: `GET /approvals`, `POST /approvals/{id}`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from pais_testing.agent_processes import a2a_user_message
from pais_testing.identity_provider import IdentityProvider
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, scripted, tool_call

from . import test_approvals
from .conftest import Served, ServeFactory
from .test_a2a_server import rpc
from .test_approvals import _pause, _shop

ASK = [{"role": "user", "content": "Refund order 42"}]
REFUND_42 = tool_call("refund", order="42")
TWO_REFUNDS = Reply(tool_calls=[("refund", {"order": "42"}), ("refund", {"order": "43"})])


ran = test_approvals.ran  # the shop's refunds


ShopFactory = Callable[..., Served]


@pytest.fixture
def open_shop(serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]) -> ShopFactory:
    """`open_shop(first, **settings)`: the shop (its `refund` needs approval); the model says `first`, then "Done."."""
    agent = _shop(ran)

    def start(first: Reply = REFUND_42, **settings: Any) -> Served:
        scripted_model.handler = scripted(first, "Done.")
        return serve_pais(
            agent, model_api_url=scripted_model.url, model_name="scripted", tools_require_approval="refund", **settings
        )

    return start


@pytest.fixture
def shop(open_shop: ShopFactory) -> Served:
    return open_shop()


def _decide(served: Served, session_id: str, call_id: str, body: Any, **params: Any) -> httpx.Response:
    return served.http.post(f"/approvals/{call_id}", params={"session_id": session_id, **params}, json=body)


def _until_answered(served: Served, session_id: str) -> str:
    """The session's first assistant answer, once the background run has written it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answers = [e["content"] for e in served.events(session_id) if e["event_type"] == "agent_response"]
        if answers:
            return answers[0]
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} has no answer")


def test_an_approval_by_id_resumes_the_run_once(
    shop: Served, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    call, session_id, _ = _pause(shop)

    [listed] = shop.http.get("/approvals").json()["approvals"]  # without a session: every visible one
    assert (listed["id"], listed["tool"], listed["session_id"]) == (call.id, "refund", session_id)
    assert json.loads(listed["arguments"]) == {"order": "42"}
    assert ran == []

    decided = _decide(shop, session_id, call.id, {"approved": True}, wait=30)

    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["output"], body["approved"], body["awaiting"]) == ("completed", "Done.", True, [])
    assert ran == ["42"]
    assert [m["content"] for m in scripted_model.calls[-1].messages if m["role"] == "tool"] == ["order 42 refunded"]
    again = _decide(shop, session_id, call.id, {"approved": True})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_decided"
    assert ran == ["42"]
    assert shop.http.get("/approvals").json()["approvals"] == []
    decided_events = [e for e in shop.events(session_id) if e["event_type"] == "approval_decided"]
    assert [(e["content"]["id"], e["content"]["approved"]) for e in decided_events] == [(call.id, True)]


def test_a_denial_by_id_answers_202_and_the_model_sees_the_reason(
    shop: Served, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    call, session_id, _ = _pause(shop)

    decided = _decide(shop, session_id, call.id, {"approved": False, "reason": "order 42 was refunded already"})

    assert decided.status_code == 202, decided.text
    assert decided.json()["status"] == "resumed"
    assert _until_answered(shop, session_id) == "Done."
    assert ran == []
    [tool_message] = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert "order 42 was refunded already" in tool_message["content"]


def test_partial_decisions_wait_for_the_rest_and_stay_final(open_shop: ShopFactory, ran: list[str]) -> None:
    served = open_shop(TWO_REFUNDS)
    raw = served.openai.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "Refund 42 and 43"}]
    )
    session_id = raw.headers["x-session-id"]
    first, second = raw.parse().choices[0].message.tool_calls or []

    recorded = _decide(served, session_id, first.id, {"approved": True}, wait=30)

    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["status"], recorded.json()["awaiting"]) == ("recorded", [second.id])
    assert _decide(served, session_id, first.id, {"approved": False}).status_code == 409
    assert [a["id"] for a in served.http.get("/approvals").json()["approvals"]] == [second.id]
    with pytest.raises(openai.ConflictError):  # the session stays locked to its paused run
        served.openai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Session-ID": session_id}
        )
    assert ran == []

    done = _decide(served, session_id, second.id, {"approved": False, "reason": "not 43"}, wait=30)

    assert done.json()["status"] == "completed", done.text
    assert ran == ["42"]
    decided = [e["content"] for e in served.events(session_id) if e["event_type"] == "approval_decided"]
    assert [(d["id"], d["approved"]) for d in decided] == [(first.id, True), (second.id, False)]


REFUNDED: Any = {
    "type": "json_schema",
    "json_schema": {
        "name": "refunded",
        "schema": {
            "type": "object",
            "properties": {"order": {"type": "string"}, "refunded": {"type": "boolean"}},
            "required": ["order", "refunded"],
        },
    },
}


def _refunds_then_answers_in_json(call: ModelCall) -> Reply:
    """Calls `refund`; given its result, first answers in prose, then (asked again) in the schema's JSON."""
    if not any(m["role"] == "tool" for m in call.messages):
        return REFUND_42
    if call.messages[-1]["role"] == "tool":
        return Reply(text="Order 42 is refunded.")
    return Reply(text='{"order": "42", "refunded": true}')


def test_a_run_resumed_by_id_keeps_the_requests_response_format_and_model_settings(
    open_shop: ShopFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    served = open_shop()
    scripted_model.handler = _refunds_then_answers_in_json
    raw = served.openai.chat.completions.with_raw_response.create(
        model="m",
        messages=[{"role": "user", "content": "Refund order 42"}],
        response_format=REFUNDED,
        max_tokens=77,
        temperature=0.25,
    )
    [call] = raw.parse().choices[0].message.tool_calls or []

    decided = _decide(served, raw.headers["x-session-id"], call.id, {"approved": True}, wait=30)

    assert decided.json()["status"] == "completed", decided.text
    assert json.loads(decided.json()["output"]) == {"order": "42", "refunded": True}  # prose was retried
    assert ran == ["42"]
    resumed = [c.body for c in scripted_model.calls if any(m["role"] == "tool" for m in c.messages)]
    assert len(resumed) == 2
    for body in resumed:
        assert body["response_format"]["json_schema"]["name"] == "refunded"
        assert (body.get("max_completion_tokens", body.get("max_tokens")), body["temperature"]) == (77, 0.25)


def test_approvals_of_every_session_come_a_page_of_paused_runs_at_a_time(shop: Served) -> None:
    paused = {_pause(shop)[1] for _ in range(2)}

    first = shop.http.get("/approvals", params={"limit": 1}).json()
    second = shop.http.get("/approvals", params={"limit": 1, "cursor": first["next_cursor"]}).json()

    assert {a["session_id"] for a in first["approvals"] + second["approvals"]} == paused
    assert second["next_cursor"] is None
    assert shop.http.get("/approvals", params={"cursor": "not-a-cursor"}).status_code == 400


def test_bad_decisions_are_clear_errors(shop: Served, ran: list[str]) -> None:
    call, session_id, _ = _pause(shop)

    cases = [
        (_decide(shop, session_id, "call_unknown", {"approved": True}), 404, "no tool call awaiting approval"),
        (_decide(shop, "session-unknown", call.id, {"approved": True}), 404, "no tool call awaiting approval"),
        (shop.http.post(f"/approvals/{call.id}", json={"approved": True}), 400, "session_id"),
        (_decide(shop, session_id, call.id, {"approved": "yes"}), 400, "approved"),
        (_decide(shop, session_id, call.id, {"approve": True}), 400, "approved"),
        (_decide(shop, session_id, call.id, {"approved": True}, wait=-1), 400, "wait"),
    ]

    for response, status, text in cases:
        assert response.status_code == status, response.text
        assert text in response.json()["error"]["message"]
    assert ran == []
    assert [a["id"] for a in shop.http.get("/approvals", params={"session_id": session_id}).json()["approvals"]] == [
        call.id
    ]


def test_an_a2a_task_awaiting_approval_is_decided_by_id_and_completes(shop: Served, ran: list[str]) -> None:
    task = rpc(shop, "message/send", {"message": a2a_user_message("Refund order 42", "ctx-by-id")})
    assert task["status"]["state"] == "input-required"
    [approval] = shop.http.get("/approvals", params={"session_id": task["contextId"]}).json()["approvals"]

    decided = _decide(shop, task["contextId"], approval["id"], {"approved": True}, wait=30)

    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["output"]) == ("completed", "Done.")
    assert decided.json()["task_id"] == task["id"]
    assert rpc(shop, "tasks/get", {"id": task["id"]})["status"]["state"] == "completed"
    assert ran == ["42"]


def test_a_decision_past_the_deadline_resumes_the_run_with_the_call_denied(
    open_shop: ShopFactory, ran: list[str]
) -> None:
    served = open_shop(approval_timeout_seconds=1)
    call, session_id, _ = _pause(served)
    time.sleep(1.1)

    late = _decide(served, session_id, call.id, {"approved": True}, wait=30)

    assert (late.json()["status"], late.json()["approved"], late.json()["timed_out"]) == ("completed", False, True)
    assert ran == []
    decided = [e["content"] for e in served.events(session_id) if e["event_type"] == "approval_decided"]
    assert [(d["approved"], d["timed_out"]) for d in decided] == [(False, True)]


def test_only_the_sessions_owner_sees_and_decides_its_approvals(open_shop: ShopFactory, ran: list[str]) -> None:
    with IdentityProvider() as idp:
        served = open_shop(
            auth_jwks_url=idp.jwks_url,
            auth_issuer=idp.issuer,
            auth_audience="shop",
            memory_read_scope="principal",
        )
        alice, bob = ({"Authorization": f"Bearer {idp.issue(who, audience='shop')}"} for who in ("alice", "bob"))
        paused = served.http.post("/v1/chat/completions", json={"messages": ASK}, headers=alice).json()
        session_id = paused["session_id"]
        [call_id] = paused["pending_approvals"]

        assert served.http.get("/approvals", headers=bob).json()["approvals"] == []
        assert served.http.get("/approvals", params={"session_id": session_id}, headers=bob).status_code == 404
        refused = served.http.post(
            f"/approvals/{call_id}", params={"session_id": session_id}, json={"approved": True}, headers=bob
        )
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
        [listed] = served.http.get("/approvals", headers=alice).json()["approvals"]
        assert (listed["id"], listed["requested_by"]) == (call_id, "alice")

        decided = served.http.post(
            f"/approvals/{call_id}",
            params={"session_id": session_id, "wait": 30},
            json={"approved": True},
            headers=alice,
        )

        assert decided.json()["status"] == "completed", decided.text
        assert ran == ["42"]
        events = served.http.get("/memory/events", params={"session_id": session_id}, headers=alice).json()["events"]
        [event] = [e for e in events if e["event_type"] == "approval_decided"]
        assert (event["content"]["approved"], event["metadata"]["principal"]) == (True, "alice")


GOAL = "Refund the queued orders"


def _goal_model(call: ModelCall) -> Reply:
    """The goal refunds order 42, its second iteration order 43 (each once its result is in), the third ends it."""
    task = call.last_user_text
    last_user = max(i for i, m in enumerate(call.messages) if m["role"] == "user")
    answered = any(m["role"] == "tool" for m in call.messages[last_user + 1 :])
    if task.startswith("Iteration 3"):
        return Reply(text="Goal reached.")
    order = "43" if task.startswith("Iteration 2") else "42"
    return Reply(text=f"Refunded {order}.") if answered else tool_call("refund", order=order)


def _awaiting(served: Served, headers: dict[str, str]) -> dict[str, Any]:
    """The one call awaiting approval that `headers` may list, once there is one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = served.http.get("/approvals", headers=headers).json()["approvals"]
        if listed:
            [approval] = listed
            return approval
        time.sleep(0.05)
    raise AssertionError("no call awaits approval")


def test_the_goals_approvals_name_the_agent_and_its_operators_decide_them(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, ran: list[str]
) -> None:
    scripted_model.handler = _goal_model
    with IdentityProvider() as idp:
        served = serve_pais(
            _shop(ran),
            model_api_url=scripted_model.url,
            model_name="scripted",
            tools_require_approval="refund",
            auth_jwks_url=idp.jwks_url,
            auth_issuer=idp.issuer,
            auth_audience="shop",
            auth_admin_claim="roles=pais-admin",
            agent_api_key="static-key",
            agent_auth_identity="shop-agent",
            autonomous_goal=GOAL,
            autonomous_interval_seconds=0,
        )
        alice = {"Authorization": f"Bearer {idp.issue('alice', audience='shop')}"}
        admin = {"Authorization": f"Bearer {idp.issue('root', audience='shop', roles=['pais-admin'])}"}
        static = {"Authorization": "Bearer static-key"}

        first = _awaiting(served, admin)  # the goal's first iteration paused: its task awaits the decision

        assert (first["tool"], first["agent"], first["requested_by"]) == ("refund", None, "shop-agent")
        session_id = first["session_id"]
        params = {"session_id": session_id, "wait": 30}
        assert served.http.get("/approvals", headers=alice).json()["approvals"] == []
        refused = served.http.post(f"/approvals/{first['id']}", params=params, json={"approved": True}, headers=alice)
        assert refused.status_code == 404
        assert ran == []
        by_static = served.http.get("/approvals", params={"session_id": session_id}, headers=static).json()
        assert [a["id"] for a in by_static["approvals"]] == [first["id"]]

        decided = served.http.post(f"/approvals/{first['id']}", params=params, json={"approved": True}, headers=admin)

        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "paused"  # the pursuit went on: its next iteration asks again
        second = _awaiting(served, admin)
        assert (second["session_id"], second["requested_by"], json.loads(second["arguments"])) == (
            session_id,
            "shop-agent",
            {"order": "43"},
        )

        done = served.http.post(f"/approvals/{second['id']}", params=params, json={"approved": True}, headers=static)

        assert done.json()["status"] == "completed", done.text
        assert done.json()["output"] == "Goal reached."
        assert ran == ["42", "43"]
        events = served.http.get("/memory/events", params={"session_id": session_id}, headers=admin).json()["events"]
        approvals = [
            (e["event_type"], e["content"]["id"], e["metadata"]["principal"])
            for e in events
            if e["event_type"].startswith("approval_")
        ]
        assert approvals == [
            ("approval_requested", first["id"], "shop-agent"),
            ("approval_decided", first["id"], "root"),
            ("approval_requested", second["id"], "shop-agent"),
            ("approval_decided", second["id"], "api-key"),
        ]
        get = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": done.json()["task_id"]}}
        task = served.http.post("/", json=get, headers=static).json()["result"]
        assert task["status"]["state"] == "completed"
        assert task["events"][0]["data"] == {"by": "shop-agent"}  # still the agent's own task
        assert [e["data"]["iteration"] for e in task["events"] if e["type"] == "autonomous.iteration.paused"] == [1, 2]
        assert "error" in served.http.post("/", json=get, headers=alice).json()


@pytest.mark.redis
def test_decisions_on_two_replicas_resume_the_run_once(
    open_shop: ShopFactory, scripted_model: ScriptedModelServer, redis: RedisServer, ran: list[str]
) -> None:
    replicas = [open_shop(TWO_REFUNDS, memory_type="redis", memory_redis_url=redis.url) for _ in range(2)]
    raw = replicas[0].openai.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "Refund 42 and 43"}]
    )
    session_id = raw.headers["x-session-id"]
    first, second = raw.parse().choices[0].message.tool_calls or []
    attempts = [(replicas[0], first.id), (replicas[1], first.id), (replicas[1], second.id), (replicas[0], second.id)]

    def approve(attempt: tuple[Served, str]) -> int:
        served, call_id = attempt
        return _decide(served, session_id, call_id, {"approved": True}, wait=30).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(approve, attempts))

    assert sorted(statuses)[2:] == [409, 409], statuses  # each call decided once
    assert _until_answered(replicas[1], session_id) == "Done."
    assert sorted(ran) == ["42", "43"]
    assert len([m for m in scripted_model.calls if m.text_of("tool")]) == 1  # resumed once
