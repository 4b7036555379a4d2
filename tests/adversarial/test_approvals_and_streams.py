"""The campaign against the surfaces added since it began: approvals (by id, in chat, Responses and A2A),
A2A push configs, subscriptions and task listings, `X-PAIS-On-Disconnect`, `Last-Event-ID`, `A2A-Version`.

Runs pause on servers whose `refund` tool needs approval (`approval_servers`); whatever the bad input,
the rules of `Probe` hold and the paused run is still there, awaiting the same call, afterwards.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Answer, Probe, assert_still_readable
from .test_properties import _has_lone_surrogate, json_value

CHAT = "/v1/chat/completions"
A2A_03 = {"A2A-Version": "0.3"}  # without it, the KAOS dialect: no status message
ASK = {"role": "user", "content": "refund 42"}


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _rpc(method: str, params: Any, request_id: Any = 1) -> bytes:
    return _json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def _pause(probe: Probe) -> tuple[str, str]:
    """A chat turn that pauses on `refund`: its session and the call's id."""
    answer = probe.request("pause", "POST", CHAT, _json({"messages": [ASK]}))
    assert answer.status == 200, answer.body
    [call_id] = answer.json()["pending_approvals"]
    return answer.headers["x-session-id"], call_id


def _awaiting(probe: Probe, session_id: str) -> list[str]:
    listed = probe.request("readback", "GET", f"/approvals?session_id={session_id}")
    assert listed.status == 200, listed.body
    return [approval["id"] for approval in listed.json()["approvals"]]


def _answers(probe: Probe, session_id: str) -> list[str]:
    """The session's answers once the resumed run wrote its own (it may still run when a decision returns)."""
    deadline = time.monotonic() + 30
    while True:
        events = probe.request("readback", "GET", f"/memory/events?session_id={session_id}&limit=1000").json()
        answers = [e["content"] for e in events["events"] if e["event_type"] == "agent_response"]
        if "Done." in answers or time.monotonic() > deadline:
            return answers
        time.sleep(0.05)


def _error_code(answer: Answer) -> str:
    return answer.json()["error"]["code"]


# --- GET /approvals ------------------------------------------------------------------------------

ODD_LISTINGS = [
    "/approvals?session_id=",
    "/approvals?session_id=%ED%A0%80",
    "/approvals?session_id=%FF%FE",
    "/approvals?session_id=%00",
    "/approvals?session_id=a:b",
    "/approvals?session_id=a%2Fb",
    "/approvals?session_id=*",
    "/approvals?session_id=has%20spaces",
    "/approvals?session_id=" + "s" * 301,
    "/approvals?session_id=" + "s" * 5000,
    "/approvals?session_id=a&session_id=b",
    "/approvals?limit=0",
    "/approvals?limit=-1",
    "/approvals?limit=1e3",
    "/approvals?limit=99999999999999999999",
    "/approvals?cursor=not-a-cursor",
    "/approvals?cursor=%00%01",
    "/approvals?cursor=-1",
    "/approvals?cursor=" + "9" * 5000,
    "/approvals?cursor=%ED%A0%80",
]


@pytest.mark.parametrize("path", ODD_LISTINGS)
def test_odd_approval_listings_get_clear_answers(approval_probe: Probe, path: str) -> None:
    answer = approval_probe.request("approvals list", "GET", path)
    assert answer.status in (200, 400, 404), answer.body


# --- POST /approvals/{id} -----------------------------------------------------------------------

ODD_CALL_IDS = ["nope", "a:b", "a%2Fb", "%ED%A0%80", "%FF", "%00", "..", "*", "x" * 301, "x" * 5000, "a%20b"]


@pytest.mark.parametrize("call_id", ODD_CALL_IDS)
def test_decisions_on_odd_call_ids_are_404_or_400_and_the_pause_stays(approval_probe: Probe, call_id: str) -> None:
    session_id, paused_call = _pause(approval_probe)
    answer = approval_probe.request(
        "approvals decide", "POST", f"/approvals/{call_id}?session_id={session_id}", b'{"approved": true}'
    )
    assert answer.status in (400, 404), answer.body
    assert _awaiting(approval_probe, session_id) == [paused_call]


ODD_SESSIONS = ["", "nobody-here", "%ED%A0%80", "a:b", "a%2Fb", "%00", "s" * 301, "has%20spaces"]


@pytest.mark.parametrize("session_id", ODD_SESSIONS)
def test_decisions_for_sessions_without_a_paused_run_are_clear(approval_probe: Probe, session_id: str) -> None:
    answer = approval_probe.request(
        "approvals decide", "POST", f"/approvals/call_1?session_id={session_id}", b'{"approved": true}'
    )
    assert answer.status in (400, 404), answer.body


def test_a_decision_without_a_session_is_400(approval_probe: Probe) -> None:
    answer = approval_probe.request("approvals decide", "POST", "/approvals/call_1", b'{"approved": true}')
    assert answer.status == 400, answer.body


BAD_DECISIONS: dict[str, bytes] = {
    "not json": b"{nope",
    "empty": b"",
    "null": b"null",
    "a list": b"[true]",
    "no approved": b"{}",
    "approved a string": b'{"approved": "yes"}',
    "approved 1": b'{"approved": 1}',
    "approved null": b'{"approved": null}',
    "reason a number": b'{"approved": false, "reason": 5}',
    "reason too long": _json({"approved": False, "reason": "r" * 4001}),
    "reason with a lone surrogate": b'{"approved": false, "reason": "\\ud800"}',
    "raw surrogate bytes": b'{"approved": false, "reason": "\xed\xa0\x80"}',
    "unknown field": b'{"approved": true, "by": "admin"}',
    "nested deep": b'{"approved": true, "reason": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "NaN": b'{"approved": NaN}',
}


@pytest.mark.parametrize("label", list(BAD_DECISIONS))
def test_bad_decision_bodies_are_400_and_the_pause_stays(approval_probe: Probe, label: str) -> None:
    session_id, call_id = _pause(approval_probe)
    answer = approval_probe.request(
        "approvals decide", "POST", f"/approvals/{call_id}?session_id={session_id}", BAD_DECISIONS[label]
    )
    assert answer.status == 400, answer.body
    assert _awaiting(approval_probe, session_id) == [call_id]


ODD_DECISION_HEADERS: list[dict[str, str]] = [
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "multipart/form-data; boundary=x"},
    {"Content-Type": "application/json; charset=utf-16"},
    {"Content-Type": ""},
    {"Content-Encoding": "gzip"},
    {"X-Session-ID": "another-session"},
]


@pytest.mark.parametrize("headers", ODD_DECISION_HEADERS, ids=lambda h: json.dumps(h)[:40])
def test_decisions_with_odd_headers_get_clear_answers(approval_probe: Probe, headers: dict[str, str]) -> None:
    session_id, call_id = _pause(approval_probe)
    target = f"/approvals/{call_id}?session_id={session_id}"
    answer = approval_probe.request("approvals decide", "POST", target, b'{"approved": false}', headers)
    assert answer.status in (200, 202, 400, 415), answer.body
    if answer.status >= 400:
        assert _awaiting(approval_probe, session_id) == [call_id]


BAD_WAITS = ["-1", "301", "abc", "nan", "inf", "-inf", "1e999", "", "0x10", "1%00"]


@pytest.mark.parametrize("wait", BAD_WAITS)
def test_bad_waits_are_400_and_the_pause_stays(approval_probe: Probe, wait: str) -> None:
    session_id, call_id = _pause(approval_probe)
    answer = approval_probe.request(
        "approvals decide", "POST", f"/approvals/{call_id}?session_id={session_id}&wait={wait}", b'{"approved": true}'
    )
    assert answer.status == 400, answer.body
    assert _awaiting(approval_probe, session_id) == [call_id]


def test_concurrent_double_decisions_decide_once(approval_probe: Probe) -> None:
    session_id, call_id = _pause(approval_probe)
    target = f"/approvals/{call_id}?session_id={session_id}&wait=10"
    probes = [Probe(approval_probe.name, approval_probe.port, approval_probe.key) for _ in range(4)]
    bodies = [b'{"approved": true}', b'{"approved": false}'] * 2
    with ThreadPoolExecutor(len(probes)) as pool:
        answers = list(
            pool.map(
                lambda pb: pb[0].request("approvals race", "POST", target, pb[1]), zip(probes, bodies, strict=True)
            )
        )
    for probe in probes:
        probe.close()
    assert sorted(202 if a.status == 200 else a.status for a in answers) == [202, 409, 409, 409], [
        a.body for a in answers
    ]
    assert all(_error_code(a) in ("already_decided", "session_busy") for a in answers if a.status == 409)
    assert _answers(approval_probe, session_id) == ["Done."]
    events = approval_probe.request("readback", "GET", f"/memory/events?session_id={session_id}&limit=1000").json()
    decided = [e for e in events["events"] if e["event_type"] == "approval_decided"]
    assert len(decided) == 1, decided


def test_another_principal_can_neither_list_nor_decide(approval_servers: dict[str, Any], intruder: Probe) -> None:
    owner = Probe("approvals-keyed", approval_servers["keyed"].port, "adversarial-key")
    session_id, call_id = _pause(owner)
    listed = intruder.request("approvals intruder", "GET", f"/approvals?session_id={session_id}")
    assert listed.status == 404, listed.body
    assert intruder.request("approvals intruder", "GET", "/approvals").json()["approvals"] == []
    decided = intruder.request(
        "approvals intruder", "POST", f"/approvals/{call_id}?session_id={session_id}", b'{"approved": true}'
    )
    assert decided.status == 404, decided.body
    assert _awaiting(owner, session_id) == [call_id]
    owner.close()


def test_another_principal_cannot_decide_over_chat_responses_or_a2a(
    approval_servers: dict[str, Any], intruder: Probe
) -> None:
    owner = Probe("approvals-keyed", approval_servers["keyed"].port, "adversarial-key")
    session_id, call_id = _pause(owner)
    chat = intruder.request(
        "approvals intruder", "POST", CHAT, _tool_turn(call_id, '{"approved": true}'), {"X-Session-ID": session_id}
    )
    assert chat.status == 404, chat.body
    assert _awaiting(owner, session_id) == [call_id]

    response_id, approval_id = _paused_response(owner)
    body = {"input": [_approval_response(approval_id)], "previous_response_id": response_id}
    responses = intruder.request("approvals intruder", "POST", "/v1/responses", _json(body))
    assert responses.status == 404, responses.body

    task_id, context_id, task_call = _input_required(owner)
    decisions = {"decisions": {task_call: {"approved": True}}}
    for message in (_decision_message(task_id, context_id, decisions), _decision_message(task_id, None, decisions)):
        a2a = intruder.request("approvals intruder", "POST", "/", _rpc("message/send", {"message": message}), A2A_03)
        assert a2a.json()["error"]["code"] == -32001, a2a.body
    for method, params in [
        ("SubscribeToTask", {"id": task_id}),
        ("GetTask", {"id": task_id}),
        ("ListTaskPushNotificationConfigs", {"task_id": task_id}),
        ("CreateTaskPushNotificationConfig", {"task_id": task_id, "url": "https://example.com/hook"}),
        ("ListTasks", {"contextId": context_id}),
    ]:
        answer = intruder.request("approvals intruder", "POST", "/", _rpc(method, params), {"A2A-Version": "1.0"})
        assert answer.json()["error"]["code"] == -32001, (method, answer.body)
    get = owner.request("readback", "POST", "/", _rpc("tasks/get", {"id": task_id}), A2A_03)
    assert get.json()["result"]["status"]["state"] == "input-required", get.body
    assert intruder.request("approvals intruder", "GET", f"/v1/responses/{response_id}").status == 404
    stream = owner.request("stream", "POST", CHAT, _json({"messages": [ASK], "stream": True}))
    first = next(line for line in stream.body.decode().splitlines() if line.startswith("data: {"))
    completion = json.loads(first.removeprefix("data: "))["id"]
    replay = intruder.request("approvals intruder", "GET", f"{CHAT}/{completion}/events", None, {"Last-Event-ID": "0"})
    assert replay.status == 404, replay.body
    assert owner.request("readback", "GET", f"{CHAT}/{completion}/events").status == 200
    owner.close()


def test_concurrent_a2a_decisions_and_decisions_by_id_resume_once(approval_probe: Probe) -> None:
    task_id, context_id, call_id = _input_required(approval_probe)
    probes = [Probe(approval_probe.name, approval_probe.port, approval_probe.key) for _ in range(4)]
    a2a = _rpc(
        "message/send",
        {"message": _decision_message(task_id, context_id, {"decisions": {call_id: {"approved": True}}})},
    )
    by_id = f"/approvals/{call_id}?session_id={context_id}"

    def send(index: int) -> Answer:
        if index % 2:
            return probes[index].request("approvals race", "POST", by_id, b'{"approved": false}')
        return probes[index].request("approvals race", "POST", "/", a2a, A2A_03)

    with ThreadPoolExecutor(len(probes)) as pool:
        answers = list(pool.map(send, range(len(probes))))
    for probe in probes:
        probe.close()
    for index, answer in enumerate(answers):
        if index % 2:  # by id: recorded before the pause was taken, or refused
            assert answer.status in (200, 202, 409), answer.body
        else:  # over A2A: the resumed task's answer, or refused
            reply = answer.json()
            assert reply.get("result", {}).get("status", {}).get("state") == "completed" or reply["error"]["code"] == (
                -32602
            ), answer.body[-300:]
    get = approval_probe.request("readback", "POST", "/", _rpc("tasks/get", {"id": task_id}), A2A_03)
    assert get.json()["result"]["status"]["state"] == "completed", get.body[-300:]
    answers_given = _answers(approval_probe, context_id)
    assert answers_given.count("Done.") == 1, answers_given  # the paused run resumed once


# --- chat `tool` decisions -----------------------------------------------------------------------

BAD_TOOL_DECISIONS: dict[str, Any] = {
    "plain yes": "yes",
    "json true": "true",
    "approved a string": '{"approved": "yes"}',
    "approved missing": '{"reason": "x"}',
    "reason a number": '{"approved": false, "reason": 5}',
    "a list": "[]",
    "null": "null",
    "extra field": '{"approved": true, "also": 1}',
    "huge reason": json.dumps({"approved": False, "reason": "r" * 200_000}),
    "content parts": [{"type": "text", "text": '{"approved": "no"}'}],
    "content a number": 5,
}


def _tool_turn(call_id: str, content: Any, answered_id: str | None = None) -> bytes:
    call = {"id": call_id, "type": "function", "function": {"name": "refund", "arguments": '{"order": "42"}'}}
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    return _json(
        {"messages": [ASK, assistant, {"role": "tool", "tool_call_id": answered_id or call_id, "content": content}]}
    )


@pytest.mark.parametrize("label", list(BAD_TOOL_DECISIONS))
def test_malformed_tool_decisions_are_400_and_the_pause_stays(approval_probe: Probe, label: str) -> None:
    session_id, call_id = _pause(approval_probe)
    answer = approval_probe.request(
        "chat decision", "POST", CHAT, _tool_turn(call_id, BAD_TOOL_DECISIONS[label]), {"X-Session-ID": session_id}
    )
    assert answer.status == 400, answer.body
    assert _awaiting(approval_probe, session_id) == [call_id]


def test_a_tool_decision_for_an_unknown_call_is_400_and_the_pause_stays(approval_probe: Probe) -> None:
    session_id, call_id = _pause(approval_probe)
    body = _tool_turn("call_unknown", '{"approved": true}')
    answer = approval_probe.request("chat decision", "POST", CHAT, body, {"X-Session-ID": session_id})
    assert answer.status in (400, 409), answer.body
    assert _awaiting(approval_probe, session_id) == [call_id]


# --- Responses API -------------------------------------------------------------------------------


def _paused_response(probe: Probe) -> tuple[str, str]:
    answer = probe.request("pause", "POST", "/v1/responses", _json({"input": "refund 42"}))
    assert answer.status == 200, answer.body
    [request] = [item for item in answer.json()["output"] if item["type"] == "mcp_approval_request"]
    return answer.json()["id"], request["id"]


def _approval_response(approval_id: Any, approve: Any = True, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp_approval_response", "approval_request_id": approval_id, "approve": approve, **extra}


BAD_RESPONSES_DECISIONS: dict[str, Any] = {
    "unknown id": [_approval_response("mcpr_nope")],
    "id a number": [_approval_response(5)],
    "id missing": [{"type": "mcp_approval_response", "approve": True}],
    "approve a string": [_approval_response("{call}", "yes")],
    "approve missing": [{"type": "mcp_approval_response", "approval_request_id": "{call}"}],
    "reason a number": [_approval_response("{call}", False, reason=5)],
    "huge reason": [_approval_response("{call}", False, reason="r" * 200_000)],
    "lone surrogate reason": [_approval_response("{call}", False, reason="\ud800")],
    "twice": [_approval_response("{call}"), _approval_response("{call}", False)],
    "request item with a wrong type": [{"type": "mcp_approval_request", "id": 5, "name": [], "arguments": {}}],
    "request item for an unknown call": [
        {"type": "mcp_approval_request", "id": "mcpr_x", "name": "refund", "arguments": "{}", "server_label": "x"}
    ],
    "function output for an unknown call": [{"type": "function_call_output", "call_id": "call_nope", "output": "r"}],
    "function output a number": [{"type": "function_call_output", "call_id": "{call}", "output": 5}],
}


def _substitute(items: Any, call_id: str) -> Any:
    return json.loads(json.dumps(items).replace("{call}", call_id))


@pytest.mark.parametrize("label", list(BAD_RESPONSES_DECISIONS))
@pytest.mark.parametrize("chained", [True, False], ids=["previous_response_id", "alone"])
def test_bad_responses_decisions_are_400_or_404(approval_probe: Probe, label: str, chained: bool) -> None:
    response_id, call_id = _paused_response(approval_probe)
    body: dict[str, Any] = {"input": _substitute(BAD_RESPONSES_DECISIONS[label], call_id)}
    if chained:
        body["previous_response_id"] = response_id
    answer = approval_probe.request(
        "responses decision", "POST", "/v1/responses", _json(body).replace(b"\\\\ud800", b"\\ud800")
    )
    assert answer.status in (400, 404, 409), answer.body


@pytest.mark.parametrize("previous", ["resp_nope", "", "a:b", "x" * 5000, 5, None])
def test_decisions_with_odd_previous_response_ids_are_clear(approval_probe: Probe, previous: Any) -> None:
    _, call_id = _paused_response(approval_probe)
    body = {"input": [_approval_response(call_id)], "previous_response_id": previous}
    answer = approval_probe.request("responses decision", "POST", "/v1/responses", _json(body))
    assert answer.status in (400, 404), answer.body


# --- A2A decisions -------------------------------------------------------------------------------


def _input_required(probe: Probe) -> tuple[str, str, str]:
    """An A2A task paused for approval: its id, context and the call's id."""
    message = {"role": "user", "messageId": "m-1", "parts": [{"kind": "text", "text": "refund 42"}]}
    answer = probe.request("pause", "POST", "/", _rpc("message/send", {"message": message}), A2A_03)
    task = answer.json()["result"]
    assert task["status"]["state"] == "input-required", task
    [data] = [part["data"] for part in task["status"]["message"]["parts"] if part["kind"] == "data"]
    return task["id"], task["contextId"], data["approvals"][0]["id"]


def _decision_message(task_id: Any, context_id: Any, data: Any) -> dict[str, Any]:
    return {
        "role": "user",
        "messageId": "m-2",
        "taskId": task_id,
        "contextId": context_id,
        "parts": [{"kind": "data", "data": data}],
    }


BAD_A2A_DECISIONS: dict[str, Any] = {
    "decisions a list": {"decisions": [True]},
    "decisions a string": {"decisions": "approve"},
    "decisions null": {"decisions": None},
    "decision a bool": {"decisions": {"{call}": True}},
    "approved a string": {"decisions": {"{call}": {"approved": "yes"}}},
    "reason a number": {"decisions": {"{call}": {"approved": False, "reason": 5}}},
    "unknown call": {"decisions": {"call_nope": {"approved": True}}},
    "empty decisions": {"decisions": {}},
    "huge id": {"decisions": {"x" * 10_000: {"approved": True}}},
}


@pytest.mark.parametrize("label", list(BAD_A2A_DECISIONS))
def test_bad_a2a_decisions_are_invalid_params(approval_probe: Probe, label: str) -> None:
    task_id, context_id, call_id = _input_required(approval_probe)
    data = _substitute(BAD_A2A_DECISIONS[label], call_id)
    params = {"message": _decision_message(task_id, context_id, data)}
    answer = approval_probe.request("a2a decision", "POST", "/", _rpc("message/send", params), A2A_03)
    assert answer.json().get("error", {}).get("code") == -32602, json.dumps(
        answer.json().get("result", {}).get("status")
    )[:300]
    get = approval_probe.request("readback", "POST", "/", _rpc("tasks/get", {"id": task_id}))
    assert get.json()["result"]["status"]["state"] == "input-required", get.body


@pytest.mark.parametrize("where", ["unknown task", "another context", "finished task", "task id a number"])
def test_decisions_for_the_wrong_task_are_json_rpc_errors(approval_probe: Probe, where: str) -> None:
    task_id, context_id, call_id = _input_required(approval_probe)
    decisions = {"decisions": {call_id: {"approved": True}}}
    if where == "finished task":
        done = approval_probe.request(
            "a2a decision",
            "POST",
            "/",
            _rpc("message/send", {"message": _decision_message(task_id, context_id, decisions)}),
        )
        assert done.json()["result"]["status"]["state"] == "completed", done.body
    target = {"unknown task": "task-nope", "task id a number": 5}.get(where, task_id)
    context = "another-context" if where == "another context" else context_id
    answer = approval_probe.request(
        "a2a decision", "POST", "/", _rpc("message/send", {"message": _decision_message(target, context, decisions)})
    )
    assert "error" in answer.json(), answer.body


# --- A2A push configs, subscriptions, listings ---------------------------------------------------

ODD_TASK_REFS: list[Any] = [
    {"task_id": 5},
    {"task_id": ""},
    {"task_id": "x" * 10_000},
    {"task_id": "nope"},
    {"taskId": None, "task_id": "nope"},
    {"task_id": "a:b"},
    {"id": ["x"]},
    {},
    {"task_id": "%00"},
]
PUSH_METHODS = [
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/set",
    "tasks/pushNotificationConfig/get",
]


@pytest.mark.parametrize("method", PUSH_METHODS)
@pytest.mark.parametrize("params", ODD_TASK_REFS, ids=lambda p: json.dumps(p)[:30])
def test_push_config_methods_with_odd_task_refs_are_json_rpc_errors(
    approval_probe: Probe, method: str, params: Any
) -> None:
    answer = approval_probe.request("a2a push", "POST", "/", _rpc(method, params), {"A2A-Version": "1.0"})
    assert "error" in answer.json(), answer.body


BAD_PUSH_CONFIGS: list[Any] = [
    "http://x",
    ["http://x"],
    None,
    {"url": 5},
    {"url": ""},
    {"url": "ftp://example.com/hook"},
    {"url": "http://169.254.169.254/latest"},
    {"url": "http://[::1]/"},
    {"url": "http://" + "a" * 5000 + ".com/"},
    {"url": "https://example.com/", "id": 5},
    {"url": "https://example.com/", "token": ["t"]},
    {"url": "https://example.com/", "authentication": "basic"},
    {"url": "http://%ED%A0%80/"},
]


@pytest.mark.parametrize("config", BAD_PUSH_CONFIGS, ids=lambda c: json.dumps(c)[:30])
def test_bad_push_configs_on_a_real_task_are_json_rpc_errors(approval_probe: Probe, config: Any) -> None:
    task_id, _, _ = _input_required(approval_probe)
    params = {"task_id": task_id, "pushNotificationConfig": config}
    answer = approval_probe.request("a2a push", "POST", "/", _rpc("CreateTaskPushNotificationConfig", params))
    assert "error" in answer.json(), answer.body


ODD_SUBSCRIBE_PARAMS: list[Any] = [
    {},
    {"id": 5},
    {"id": ""},
    {"id": "nope"},
    {"id": "x" * 10_000},
    {"id": None},
    {"name": "tasks/nope"},
    {"id": "a:b"},
]


@pytest.mark.parametrize("method", ["SubscribeToTask", "tasks/resubscribe"])
@pytest.mark.parametrize("params", ODD_SUBSCRIBE_PARAMS, ids=lambda p: json.dumps(p)[:30])
def test_subscriptions_with_odd_params_are_json_rpc_errors(approval_probe: Probe, method: str, params: Any) -> None:
    answer = approval_probe.request("a2a subscribe", "POST", "/", _rpc(method, params))
    assert "error" in answer.json(), answer.body


ODD_LISTINGS_PARAMS: list[Any] = [
    {"pageToken": "9" * 5000},
    {"pageToken": "-1"},
    {"pageToken": "1e3"},
    {"pageToken": " 1"},
    {"pageToken": 5},
    {"pageToken": "99999999999999999999"},
    {"pageToken": "\u0661"},  # an Arabic-Indic digit
    {"statusTimestampAfter": "2026-01-01"},
    {"statusTimestampAfter": "2026-01-01T00:00:00"},
    {"statusTimestampAfter": "0001-01-01T00:00:00+14:00"},
    {"statusTimestampAfter": "9999-12-31T23:59:59-14:00"},
    {"statusTimestampAfter": "2026-13-01T00:00:00Z"},
    {"statusTimestampAfter": 5},
    {"statusTimestampAfter": None},
    {"statusTimestampAfter": "now"},
    {"statusTimestampAfter": "2026-01-01T00:00:00Z" + "0" * 5000},
]


@pytest.mark.parametrize("method", ["ListTasks", "tasks/list"])
@pytest.mark.parametrize("params", ODD_LISTINGS_PARAMS, ids=lambda p: json.dumps(p)[:40])
def test_task_listings_with_odd_params_answer(approval_probe: Probe, method: str, params: Any) -> None:
    answer = approval_probe.request("a2a list", "POST", "/", _rpc(method, params))
    assert answer.status == 200, answer.body


# --- streaming headers ---------------------------------------------------------------------------

ODD_DISCONNECT = ["", " ", "CANCEL", "bogus", "cancel, continue", "\xff", "c" * 5000, "0", "true"]
STREAMS: dict[str, tuple[str, bytes]] = {
    "chat": (CHAT, _json({"messages": [{"role": "user", "content": "hi"}], "stream": True})),
    "responses": ("/v1/responses", _json({"input": "hi", "stream": True})),
    "a2a 0.3": (
        "/",
        _rpc(
            "message/stream", {"message": {"role": "user", "messageId": "m", "parts": [{"kind": "text", "text": "hi"}]}}
        ),
    ),
    "a2a 1.0": (
        "/",
        _rpc("SendStreamingMessage", {"message": {"role": "ROLE_USER", "messageId": "m", "parts": [{"text": "hi"}]}}),
    ),
}


@pytest.mark.parametrize("value", ODD_DISCONNECT, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("route", list(STREAMS))
def test_odd_on_disconnect_values_get_clear_answers(probe: Probe, route: str, value: str) -> None:
    path, body = STREAMS[route]
    headers = {"X-PAIS-On-Disconnect": value, "Accept": "text/event-stream"}
    if route == "a2a 1.0":
        headers["A2A-Version"] = "1.0"
    answer = probe.request("on-disconnect", "POST", path, body, headers)
    assert answer.status in (200, 400), answer.body


ODD_LAST_EVENT_IDS = ["-1", "abc", "99999999999999999999", " 5 ", "5" * 5000, "\xff", "0", "1.5"]


def _completion_id(probe: Probe) -> str:
    answer = probe.request("stream", "POST", CHAT, STREAMS["chat"][1])
    first = next(line for line in answer.body.decode().splitlines() if line.startswith("data: {"))
    return json.loads(first.removeprefix("data: "))["id"]


@pytest.mark.parametrize("value", ODD_LAST_EVENT_IDS, ids=lambda v: repr(v)[:20])
def test_odd_last_event_ids_get_clear_answers(probe: Probe, value: str) -> None:
    for completion in (_completion_id(probe), "chatcmpl-nope"):
        path = f"{CHAT}/{completion}/events"
        answer = probe.request("last-event-id", "GET", path, None, {"Last-Event-ID": value})
        assert answer.status in (200, 400, 404), answer.body


@pytest.mark.parametrize("completion", ["%ED%A0%80", "a:b", "x" * 5000, "%00", "..%2F.."])
def test_odd_completion_ids_get_clear_answers(probe: Probe, completion: str) -> None:
    answer = probe.request("last-event-id", "GET", f"{CHAT}/{completion}/events")
    assert answer.status in (400, 404), answer.body


ODD_VERSIONS = [
    "2.0",
    "1",
    "1.0.0.0",
    "1.0, 0.3",
    "\xff",
    "v1.0",
    "9" * 5000 + ".0",
    "1." + "0" * 5000,
    "-1.0",
    "1.0 x",
]


@pytest.mark.parametrize("version", ODD_VERSIONS, ids=lambda v: repr(v)[:20])
def test_odd_a2a_versions_are_json_rpc_errors(probe: Probe, version: str) -> None:
    answer = probe.request("a2a-version", "POST", "/", _rpc("ListTasks", {}), {"A2A-Version": version})
    assert answer.json()["error"]["code"] == -32009, answer.body


def test_stored_data_is_readable_after_the_new_surfaces(approval_probe: Probe) -> None:
    assert_still_readable(approval_probe)


@pytest.mark.parametrize("decision", [{"approved": "yes"}, {"approved": True, "also": 1}, "unknown call"], ids=str)
@pytest.mark.parametrize("protocol", ["chat", "responses", "a2a"])
def test_bad_decisions_in_streamed_requests_are_refused_before_the_stream(
    approval_probe: Probe, protocol: str, decision: Any
) -> None:
    unknown = decision == "unknown call"
    sent = {"approved": True} if unknown else decision
    headers = {"Accept": "text/event-stream"}
    if protocol == "chat":
        session_id, call_id = _pause(approval_probe)
        body = json.loads(_tool_turn(call_id, json.dumps(sent), "call_nope" if unknown else None))
        headers["X-Session-ID"] = session_id
        answer = approval_probe.request("streamed decision", "POST", CHAT, _json({**body, "stream": True}), headers)
        assert answer.status == 400, answer.body
        assert _awaiting(approval_probe, session_id) == [call_id]
    elif protocol == "responses":
        response_id, call_id = _paused_response(approval_probe)
        item = {"approval_request_id": "mcpr_nope" if unknown else call_id, **{"approve": sent.get("approved")}}
        extra = {k: v for k, v in sent.items() if k != "approved"}
        body = {"input": [{"type": "mcp_approval_response", **item, **extra}], "previous_response_id": response_id}
        answer = approval_probe.request("streamed decision", "POST", "/v1/responses", _json({**body, "stream": True}))
        assert answer.status == (200 if extra else 400), answer.body  # an item may carry more fields (OpenAI's do)
    else:
        task_id, context_id, call_id = _input_required(approval_probe)
        data = {"decisions": {"call_nope" if unknown else call_id: sent}}
        params = {"message": _decision_message(task_id, context_id, data)}
        answer = approval_probe.request(
            "streamed decision", "POST", "/", _rpc("message/stream", params), headers | A2A_03
        )
        assert answer.json()["error"]["code"] == -32602, answer.body[:300]
        get = approval_probe.request("readback", "POST", "/", _rpc("tasks/get", {"id": task_id}), A2A_03)
        assert get.json()["result"]["status"]["state"] == "input-required", get.body[-300:]


ODD_CONFIG_REFS: list[Any] = [
    {"id": 5},
    {"id": ""},
    {"id": "nope"},
    {"id": "x" * 10_000},
    {"pushNotificationConfigId": []},
]


@pytest.mark.parametrize("method", ["GetTaskPushNotificationConfig", "DeleteTaskPushNotificationConfig"])
@pytest.mark.parametrize("ref", ODD_CONFIG_REFS, ids=lambda r: json.dumps(r)[:30])
def test_push_configs_of_a_real_task_with_odd_config_ids_are_json_rpc_errors(
    approval_probe: Probe, method: str, ref: dict[str, Any]
) -> None:
    task_id, _, _ = _input_required(approval_probe)
    answer = approval_probe.request(
        "a2a push", "POST", "/", _rpc(method, {"task_id": task_id, **ref}), {"A2A-Version": "1.0"}
    )
    assert "error" in answer.json(), answer.body


ODD_TASK_QUERIES: list[tuple[str, Any]] = [
    ("ListTasks", {"contextId": "a b"}),
    ("ListTasks", {"contextId": "x" * 10_000}),
    ("ListTasks", {"contextId": 5}),
    ("ListTasks", {"historyLength": 10**30}),
    ("ListTasks", {"status": "TASK_STATE_NOPE"}),
    ("GetTask", {"id": "nope", "historyLength": 10**30}),
    ("GetTask", {"id": "nope", "historyLength": -1}),
]


@pytest.mark.parametrize(("method", "params"), ODD_TASK_QUERIES, ids=lambda p: json.dumps(p)[:40])
def test_odd_task_queries_answer(approval_probe: Probe, method: str, params: Any) -> None:
    answer = approval_probe.request("a2a list", "POST", "/", _rpc(method, params), {"A2A-Version": "1.0"})
    assert answer.status == 200, answer.body


# --- property: a decision is accepted exactly when it has the one shape, over every protocol ----

DECISIONS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
reason = st.one_of(st.none(), st.text(max_size=30), st.just("r" * 4001), st.integers(), st.booleans())
decision_body = st.one_of(
    st.fixed_dictionaries(
        {"approved": st.one_of(st.booleans(), st.none(), st.integers(0, 1), st.sampled_from(["true", "yes"]))},
        optional={"reason": reason, "extra": st.integers()},
    ),
    json_value,
)


def _well_formed(decision: Any) -> bool:
    if not isinstance(decision, dict) or "approved" not in decision or not set(decision) <= {"approved", "reason"}:
        return False
    given = decision.get("reason")
    return isinstance(decision["approved"], bool) and (given is None or (isinstance(given, str) and len(given) <= 4000))


@DECISIONS
@given(decision=decision_body, protocol=st.sampled_from(["by id", "chat", "a2a"]))
def test_a_decision_is_taken_exactly_when_well_formed(approval_probe: Probe, decision: Any, protocol: str) -> None:
    expected = _well_formed(decision) and not _has_lone_surrogate(decision, raw=False)
    if protocol == "a2a":
        task_id, context_id, call_id = _input_required(approval_probe)
        params = {"message": _decision_message(task_id, context_id, {"decisions": {call_id: decision}})}
        answer = approval_probe.request("decision property", "POST", "/", _rpc("message/send", params), A2A_03)
        if expected:
            assert answer.json()["result"]["status"]["state"] == "completed", answer.body[-300:]
        else:  # -32700: NaN or Infinity somewhere, which JSON has not
            assert answer.json()["error"]["code"] in (-32602, -32700), answer.body[-300:]
        return
    session_id, call_id = _pause(approval_probe)
    if protocol == "by id":
        target = f"/approvals/{call_id}?session_id={session_id}&wait=10"
        answer = approval_probe.request("decision property", "POST", target, _json(decision))
    else:
        body = _tool_turn(call_id, json.dumps(decision))
        answer = approval_probe.request("decision property", "POST", CHAT, body, {"X-Session-ID": session_id})
    assert answer.status == (200 if expected else 400), answer.body[-300:]
    assert _awaiting(approval_probe, session_id) == ([] if expected else [call_id])


QUERIES = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
timestamp = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.datetimes().map(lambda t: t.isoformat()),
    st.text(max_size=40),
    json_value,
)


@QUERIES
@given(
    page_token=st.one_of(st.none(), st.integers(-(2**70), 2**70).map(str), st.text(max_size=30), json_value),
    after=st.one_of(st.none(), timestamp),
    method=st.sampled_from(["ListTasks", "tasks/list"]),
)
def test_any_task_listing_params_get_a_json_rpc_answer(
    approval_probe: Probe, page_token: Any, after: Any, method: str
) -> None:
    params = {
        key: value for key, value in (("pageToken", page_token), ("statusTimestampAfter", after)) if value is not None
    }
    answer = approval_probe.request("a2a list property", "POST", "/", _rpc(method, params))
    reply = answer.json()
    assert "result" in reply or reply["error"]["code"] in (-32602, -32700), reply


@QUERIES
@given(
    call_id=st.text(min_size=1, max_size=40),
    session_id=st.text(max_size=40),
    wait=st.one_of(st.none(), st.text(max_size=8)),
)
def test_any_decision_target_gets_a_clear_answer(
    approval_probe: Probe, call_id: str, session_id: str, wait: str | None
) -> None:
    from urllib.parse import quote

    query = f"session_id={quote(session_id, safe='')}" + ("" if wait is None else f"&wait={quote(wait, safe='')}")
    path = f"/approvals/{quote(call_id, safe='')}?{query}"
    answer = approval_probe.request("approvals property", "POST", path, b'{"approved": true}')
    # a path ending in "/" (an id ending in an escaped slash) is redirected without it, as on every route
    assert answer.status in ((307,) if call_id.endswith("/") else (400, 404)), answer.body


@pytest.mark.parametrize(
    "decision", [{"approved": "yes"}, {"approved": True, "reason": 5}, {"approved": True}], ids=str
)
def test_a2a_1_0_decisions_are_checked_like_0_3_ones(approval_probe: Probe, decision: dict[str, Any]) -> None:
    task_id, context_id, call_id = _input_required(approval_probe)
    message = {
        "role": "ROLE_USER",
        "messageId": "m-3",
        "taskId": task_id,
        "contextId": context_id,
        "parts": [{"data": {"decisions": {call_id: decision}}}],
    }
    answer = approval_probe.request(
        "a2a decision", "POST", "/", _rpc("SendMessage", {"message": message}), {"A2A-Version": "1.0"}
    )
    if decision == {"approved": True}:
        assert answer.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED", answer.body[-300:]
    else:
        assert answer.json()["error"]["code"] == -32602, answer.body[-300:]


def test_a_decision_message_sent_again_at_once_resumes_the_task_once(approval_probe: Probe) -> None:
    task_id, context_id, call_id = _input_required(approval_probe)
    params = {"message": _decision_message(task_id, context_id, {"decisions": {call_id: {"approved": True}}})}
    probes = [Probe(approval_probe.name, approval_probe.port, approval_probe.key) for _ in range(4)]
    with ThreadPoolExecutor(len(probes)) as pool:  # one message (one messageId) sent four times: a client's retries
        answers = list(
            pool.map(lambda p: p.request("approvals race", "POST", "/", _rpc("message/send", params), A2A_03), probes)
        )
    for probe in probes:
        probe.close()
    states = [a.json().get("result", {}).get("status", {}).get("state") or a.json()["error"]["code"] for a in answers]
    assert set(states) <= {"completed", -32602}, [a.body[-300:] for a in answers]
    assert "completed" in states, states
    get = approval_probe.request("readback", "POST", "/", _rpc("tasks/get", {"id": task_id}), A2A_03)
    assert get.json()["result"]["status"]["state"] == "completed", get.body[-300:]
    assert _answers(approval_probe, context_id).count("Done.") == 1
