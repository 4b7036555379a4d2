"""The A2A JSON-RPC endpoint at `POST /`: both dialects, streaming, tasks in memory, cancel, errors."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from pais_testing.agent_processes import a2a_user_message as user_message
from pais_testing.agent_processes import a2a_version_header
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted, tool_call
from pydantic_ai import Agent

from pais_delegation import CONTEXT_METADATA_KEY, DEPTH_HEADER

from .conftest import Served, ServeFactory

SLOW_MODEL_SECONDS = 4.0
"""Long enough to cancel in flight; short, because the model server finishes the reply before it stops."""


def v1_message(text: str, context_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "ROLE_USER", "messageId": uuid.uuid4().hex, "parts": [{"text": text}]}
    if context_id:
        message["contextId"] = context_id
    return message


def rpc_raw(served: Served, method: str, params: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
    response = served.http.post("/", json=request, headers={**a2a_version_header(method), **(headers or {})})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] == request["id"]
    return answer


def rpc(served: Served, method: str, params: Any, headers: dict[str, str] | None = None) -> Any:
    answer = rpc_raw(served, method, params, headers)
    assert "error" not in answer, answer
    return answer["result"]


def rpc_error(served: Served, method: str, params: Any) -> dict[str, Any]:
    answer = rpc_raw(served, method, params)
    assert "result" not in answer, answer
    return answer["error"]


def sse(served: Served, method: str, params: Any) -> list[dict[str, Any]]:
    request = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    results: list[dict[str, Any]] = []
    headers = {"Accept": "text/event-stream", **a2a_version_header(method)}
    with served.http.stream("POST", "/", json=request, headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                body = json.loads(line.removeprefix("data:"))
                assert body["id"] == 7
                results.append(body["result"])
    return results


def wait_for_state(served: Served, task_id: str, states: set[str], timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = rpc(served, "tasks/get", {"id": task_id})
        if task["status"]["state"] in states or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def answer_of(task: dict[str, Any]) -> str:
    return "".join(part["text"] for artifact in task["artifacts"] for part in artifact["parts"])


def test_send_in_0_3_returns_the_completed_task_and_the_context_is_the_session(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = lambda call: Reply(text=f"turn {len(call.text_of('user'))}: {call.last_user_text}")

    first = rpc(pais, "message/send", {"message": user_message("hello", "ctx-1")})
    assert first["kind"] == "task"
    assert first["contextId"] == "ctx-1"
    assert first["status"]["state"] == "completed"
    assert answer_of(first) == "turn 1: hello"
    assert [m["role"] for m in first["history"]] == ["user", "agent"]
    assert first["history"][0]["taskId"] == first["id"]

    second = rpc(pais, "message/send", {"message": user_message("again", "ctx-1")})
    assert answer_of(second) == "turn 2: again"  # the model saw the first turn from memory
    events = pais.events("ctx-1")
    assert [e["event_type"] for e in events] == ["user_message", "agent_response"] * 2

    fetched = rpc(pais, "tasks/get", {"id": first["id"]})
    assert fetched == first
    assert rpc(pais, "tasks/get", {"id": first["id"], "historyLength": 1})["history"] == first["history"][-1:]
    listed = rpc(pais, "tasks/list", {"contextId": "ctx-1"})
    assert [t["id"] for t in listed["tasks"]] == [second["id"], first["id"]]


def test_send_without_context_starts_a_new_session(pais: Served) -> None:
    task = rpc(pais, "message/send", {"message": user_message("hi")})
    assert task["contextId"]
    assert [e["event_type"] for e in pais.events(task["contextId"])] == ["user_message", "agent_response"]


def test_1_0_methods_use_1_0_shapes(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("from 1.0")
    sent = rpc(pais, "SendMessage", {"message": v1_message("hello", "ctx-v1")})
    task = sent["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"] == [{"text": "from 1.0"}]
    assert [m["role"] for m in task["history"]] == ["ROLE_USER", "ROLE_AGENT"]
    assert "kind" not in task

    assert rpc(pais, "GetTask", {"id": task["id"]}) == task
    listed = rpc(pais, "ListTasks", {"contextId": "ctx-v1"})
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]
    assert "artifacts" not in listed["tasks"][0]  # 1.0 lists leave artifacts out unless asked
    assert listed["totalSize"] == 1
    assert listed["nextPageToken"] == ""
    with_artifacts = rpc(pais, "ListTasks", {"contextId": "ctx-v1", "includeArtifacts": True})
    assert with_artifacts["tasks"][0]["artifacts"] == task["artifacts"]
    # a task is one record, readable in either dialect
    assert rpc(pais, "tasks/get", {"id": task["id"]})["status"]["state"] == "completed"


def test_forwarded_context_reaches_the_model_and_the_depth_marks_a_delegation(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted("worker answer")
    context = [{"role": "user", "content": "my name is Ada"}, {"role": "assistant", "content": "hi Ada"}]
    message = {
        "kind": "message",
        "role": "user",
        "messageId": "m-1",
        "contextId": "parent/worker",
        "parts": [
            {"kind": "text", "text": "Conversation so far: ...", "metadata": {CONTEXT_METADATA_KEY: context}},
            {"kind": "text", "text": "what is my name?"},
        ],
    }
    task = rpc(pais, "message/send", {"message": message}, headers={DEPTH_HEADER: "1"})
    assert task["status"]["state"] == "completed"
    call = scripted_model.calls[-1]
    assert [(m["role"], m["content"]) for m in call.messages if m["role"] != "system"] == [
        ("user", "my name is Ada"),
        ("assistant", "hi Ada"),
        ("user", "what is my name?"),
    ]
    events = pais.events("parent/worker")
    assert [e["event_type"] for e in events] == ["task_delegation_received", "agent_response"]
    assert events[0]["content"] == "what is my name?"


def test_a_run_past_the_maximum_depth_fails_the_task(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", delegation_max_depth=2)
    task = rpc(served, "message/send", {"message": user_message("go", "deep")}, headers={DEPTH_HEADER: "3"})
    assert task["status"]["state"] == "failed"
    assert "DELEGATION_MAX_DEPTH=2" in task["status"]["message"]["parts"][0]["text"]
    assert scripted_model.calls == []


@pytest.mark.parametrize("method", ["message/stream", "SendStreamingMessage"])
def test_stream_sends_the_task_progress_answer_chunks_and_a_final_status(method: str, serve_pais: ServeFactory) -> None:
    agent = Agent(name="calc")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    with ScriptedModelServer(scripted(tool_call("add", a=2, b=3), "the sum is five")) as model:
        served = serve_pais(agent, model_api_url=model.url, model_name="scripted")
        message = user_message("add", "ctx-s") if method == "message/stream" else v1_message("add", "ctx-s")
        events = sse(served, method, {"message": message})

    if method == "message/stream":
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "task"
        assert events[0]["status"]["state"] == "submitted"
        statuses = [e for e in events if e["kind"] == "status-update"]
        chunks = [e for e in events if e["kind"] == "artifact-update"]
    else:
        assert list(events[0]) == ["task"]
        assert events[0]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"
        statuses = [e["statusUpdate"] for e in events if "statusUpdate" in e]
        chunks = [e["artifactUpdate"] for e in events if "artifactUpdate" in e]
    assert statuses[0]["status"]["state"] in ("working", "TASK_STATE_WORKING")
    progress = [s["metadata"]["pais_progress"] for s in statuses if "metadata" in s]
    assert [(p["type"], p["tool"]) for p in progress] == [("tool_call", "add"), ("tool_result", "add")]
    assert progress[1]["success"] is True
    assert "".join(c["artifact"]["parts"][0]["text"] for c in chunks) == "the sum is five"
    assert len({c["artifact"]["artifactId"] for c in chunks}) == 1
    assert [c.get("append", False) for c in chunks] == [False] + [True] * (len(chunks) - 1)
    assert [c.get("lastChunk", False) for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert statuses[-1]["status"]["state"] in ("completed", "TASK_STATE_COMPLETED")
    if method == "message/stream":
        assert statuses[-1]["final"] is True
        assert [s["final"] for s in statuses[:-1]] == [False] * (len(statuses) - 1)
    stored = rpc(served, "tasks/get", {"id": statuses[-1]["taskId"]})
    assert answer_of(stored) == "the sum is five"


def _tagged(event: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**event, "kind": kind}


@pytest.mark.parametrize("method", ["tasks/resubscribe", "SubscribeToTask"])
def test_subscribe_gives_the_current_task_then_follows_it_to_the_end(
    pais: Served, scripted_model: ScriptedModelServer, method: str
) -> None:
    scripted_model.handler = lambda call: Reply(text="done at last", delay=1.0)
    params = {"message": user_message("take your time", "ctx-sub"), "configuration": {"blocking": False}}
    task = rpc(pais, "message/send", params)

    events = sse(pais, method, {"id": task["id"]})

    if method == "SubscribeToTask":
        events = [_tagged(inner, key) for event in events for key, inner in event.items()]
    assert events[0]["kind"] == "task"
    assert events[0]["id"] == task["id"]
    assert [e["kind"] for e in events[1:]].count("task") == 0
    final = events[-1]
    assert final["kind"] in ("status-update", "statusUpdate")
    assert final["status"]["state"] in ("completed", "TASK_STATE_COMPLETED")
    chunks = [e["artifact"]["parts"][0]["text"] for e in events if e["kind"] in ("artifact-update", "artifactUpdate")]
    assert "".join(chunks) == "done at last"
    ended = rpc_error(pais, method, {"id": task["id"]})  # ended: nothing left to follow (GetTask has it)
    assert ended["code"] == -32004
    assert "completed" in ended["message"]


@pytest.fixture
def slow(scripted_model: ScriptedModelServer) -> ScriptedModelServer:
    scripted_model.handler = lambda call: Reply(text="too late", delay=SLOW_MODEL_SECONDS)
    return scripted_model


def test_non_blocking_send_returns_at_once_and_cancel_stops_the_run(pais: Served, slow: ScriptedModelServer) -> None:
    started = time.monotonic()
    task = rpc(pais, "message/send", {"message": user_message("slow", "ctx-c"), "configuration": {"blocking": False}})
    assert time.monotonic() - started < 5
    assert task["status"]["state"] in ("submitted", "working")
    assert wait_for_state(pais, task["id"], {"working"})["status"]["state"] == "working"
    deadline = time.monotonic() + 10
    while not slow.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(slow.calls) == 1  # the model request is in flight

    canceled = rpc(pais, "tasks/cancel", {"id": task["id"]})
    assert canceled["status"]["state"] == "canceled"
    # the run really stops: its failure is in memory long before the model would have answered
    deadline = time.monotonic() + SLOW_MODEL_SECONDS / 2
    events: list[dict[str, Any]] = []
    while not events and time.monotonic() < deadline:
        response = pais.http.get("/memory/events", params={"session_id": "ctx-c"})
        events = response.json()["events"] if response.status_code == 200 else []
        time.sleep(0.05)
    assert [e["event_type"] for e in events] == ["user_message", "error"]
    assert events[1]["metadata"]["code"] == "cancelled"
    assert rpc(pais, "tasks/get", {"id": task["id"]})["status"]["state"] == "canceled"
    assert len(slow.calls) == 1
    error = rpc_error(pais, "tasks/cancel", {"id": task["id"]})
    assert error["code"] == -32002


def test_1_0_return_immediately_and_cancel(pais: Served, slow: ScriptedModelServer) -> None:
    sent = rpc(pais, "SendMessage", {"message": v1_message("slow"), "configuration": {"returnImmediately": True}})
    task = sent["task"]
    assert task["status"]["state"] in ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")
    canceled = rpc(pais, "CancelTask", {"id": task["id"]})
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
    assert rpc(pais, "GetTask", {"id": task["id"]})["status"]["state"] == "TASK_STATE_CANCELED"


def test_a_failed_run_fails_the_task(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = lambda call: Reply(status=500)
    task = rpc(pais, "message/send", {"message": user_message("boom", "ctx-f")})
    assert task["status"]["state"] == "failed"
    assert "HTTP 500" in task["status"]["message"]["parts"][0]["text"]
    assert "artifacts" not in task
    assert [e["event_type"] for e in pais.events("ctx-f")] == ["user_message", "error"]


@pytest.mark.parametrize("method", ["message/send", "SendMessage"])
def test_follow_up_on_a_finished_task_is_an_unsupported_operation(pais: Served, method: str) -> None:
    task = rpc(pais, "message/send", {"message": user_message("hi")})
    error = rpc_error(pais, method, {"message": {**user_message("more"), "taskId": task["id"]}})
    assert error["code"] == -32004
    assert "completed" in error["message"]


@pytest.mark.parametrize("method", ["message/send", "SendMessage", "message/stream", "SendStreamingMessage"])
def test_a_send_without_message_id_is_invalid(pais: Served, method: str) -> None:
    message = {k: v for k, v in user_message("hi").items() if k != "messageId"}
    error = rpc_error(pais, method, {"message": message})
    assert error["code"] == -32602
    assert "messageId" in error["message"]
    assert rpc(pais, "tasks/list", {})["tasks"] == []  # no task was started


def test_a_message_with_only_unsupported_parts_is_refused_as_such(pais: Served) -> None:
    raw = {**user_message("x"), "parts": [{"kind": "file", "file": {"bytes": "aGk=", "mimeType": "image/png"}}]}
    assert rpc_error(pais, "message/send", {"message": raw})["code"] == -32005
    v1 = {**v1_message("x"), "parts": [{"raw": "aGk=", "mediaType": "image/png"}, {"data": {"a": 1}}]}
    assert rpc_error(pais, "SendMessage", {"message": v1})["code"] == -32005
    mixed = {**v1_message("what is this?"), "parts": [{"text": "what is this?"}, {"raw": "aGk="}]}
    assert rpc(pais, "SendMessage", {"message": mixed})["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


PUSH_CONFIG_METHODS = [
    ("CreateTaskPushNotificationConfig", {"taskId": "t", "url": "http://127.0.0.1:9/hook"}),
    ("GetTaskPushNotificationConfig", {"taskId": "t", "id": "c"}),
    ("ListTaskPushNotificationConfigs", {"taskId": "t"}),
    ("ListTaskPushNotificationConfig", {"taskId": "t"}),
    ("DeleteTaskPushNotificationConfig", {"taskId": "t", "id": "c"}),
    ("tasks/pushNotificationConfig/set", {"taskId": "t", "pushNotificationConfig": {"url": "http://127.0.0.1:9/"}}),
    ("tasks/pushNotificationConfig/get", {"id": "t"}),
    ("tasks/pushNotificationConfig/list", {"id": "t"}),
    ("tasks/pushNotificationConfig/delete", {"id": "t", "pushNotificationConfigId": "c"}),
]


@pytest.mark.parametrize(("method", "params"), PUSH_CONFIG_METHODS)
def test_push_notification_config_methods_of_an_unknown_task_say_task_not_found(
    pais: Served, method: str, params: dict[str, Any]
) -> None:
    assert rpc_error(pais, method, params)["code"] == -32001


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/"])
def test_a_send_with_a_private_webhook_is_refused_without_the_allow_list(pais: Served, url: str) -> None:
    config = {"url": url, "token": "t"}
    v03 = {"message": user_message("hi"), "configuration": {"pushNotificationConfig": config}}
    error = rpc_error(pais, "message/send", v03)
    assert error["code"] == -32602
    assert "A2A_PUSH_ALLOWED_HOSTS" in error["message"]
    v1 = {"message": v1_message("hi"), "configuration": {"taskPushNotificationConfig": config}}
    assert rpc_error(pais, "SendMessage", v1)["code"] == -32602
    assert rpc(pais, "tasks/list", {})["tasks"] == []  # no task was started


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 101},
        {"pageSize": 0},
        {"historyLength": -1},
        {"statusTimestampAfter": "yesterday"},
        {"statusTimestampAfter": "2026-01-01T00:00:00"},  # no time zone
        {"statusTimestampAfter": "-1"},  # a number of seconds is no ISO 8601 timestamp (the A2A TCK sends this)
        {"statusTimestampAfter": 1767225600},
    ],
)
@pytest.mark.parametrize("method", ["tasks/list", "ListTasks"])
def test_list_tasks_rejects_out_of_range_params(pais: Served, method: str, params: dict[str, Any]) -> None:
    assert rpc_error(pais, method, params)["code"] == -32602


def test_list_tasks_filters_by_status_timestamp(pais: Served) -> None:
    first = rpc(pais, "message/send", {"message": user_message("one")})
    second = rpc(pais, "message/send", {"message": user_message("two")})
    assert second["status"]["timestamp"] > first["status"]["timestamp"]

    listed = rpc(pais, "ListTasks", {"statusTimestampAfter": second["status"]["timestamp"], "pageSize": 100})
    assert [task["id"] for task in listed["tasks"]] == [second["id"]]
    everything = rpc(pais, "ListTasks", {"statusTimestampAfter": "2000-01-01T00:00:00+01:00"})
    assert [task["id"] for task in everything["tasks"]] == [second["id"], first["id"]]
    assert rpc_error(pais, "GetTask", {"id": first["id"], "historyLength": -1})["code"] == -32602


def test_list_tasks_orders_by_latest_status_change_and_filters_before_paging(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    """A2A 1.0 section 3.1.4: most recently updated first; filters apply to the whole listing, not per page."""
    scripted_model.handler = lambda call: (
        Reply(text="late", delay=2.0) if call.last_user_text == "slow" else Reply(text="ok")
    )
    slow = rpc(pais, "SendMessage", {"message": v1_message("slow"), "configuration": {"returnImmediately": True}})
    quick = [rpc(pais, "SendMessage", {"message": v1_message("quick")})["task"] for _ in range(2)]
    late = wait_for_state(pais, slow["task"]["id"], {"completed"})
    assert late["status"]["timestamp"] > quick[1]["status"]["timestamp"]  # created first, updated last
    scripted_model.handler = lambda call: Reply(status=500)
    failed = rpc(pais, "SendMessage", {"message": v1_message("boom")})["task"]
    newest_first = [failed["id"], late["id"], quick[1]["id"], quick[0]["id"]]

    first = rpc(pais, "ListTasks", {"pageSize": 3})
    assert [task["id"] for task in first["tasks"]] == newest_first[:3]
    assert (first["totalSize"], first["pageSize"]) == (4, 3)
    rest = rpc(pais, "ListTasks", {"pageSize": 3, "pageToken": first["nextPageToken"]})
    assert [task["id"] for task in rest["tasks"]] == newest_first[3:]
    assert rest["nextPageToken"] == ""
    completed = rpc(pais, "ListTasks", {"status": "TASK_STATE_COMPLETED", "pageSize": 2})
    assert [task["id"] for task in completed["tasks"]] == newest_first[1:3]
    assert completed["totalSize"] == 3
    oldest = rpc(pais, "ListTasks", {"status": "TASK_STATE_COMPLETED", "pageToken": completed["nextPageToken"]})
    assert [task["id"] for task in oldest["tasks"]] == newest_first[3:]
    assert rpc_error(pais, "ListTasks", {"pageToken": "not-a-token"})["code"] == -32602


def test_json_rpc_errors(pais: Served) -> None:
    def raw(body: str | bytes) -> dict[str, Any]:
        response = pais.http.post("/", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200
        return response.json()

    parse = raw("{not json")
    assert parse == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": parse["error"]["message"]}}
    assert raw(json.dumps({"id": 3, "method": "tasks/get"}))["error"]["code"] == -32600
    assert raw(json.dumps({"jsonrpc": "2.0", "id": 4, "method": 5}))["error"]["code"] == -32600
    assert raw(json.dumps([{"jsonrpc": "2.0", "id": 5, "method": "tasks/get"}]))["error"]["code"] == -32600
    unknown = raw(json.dumps({"jsonrpc": "2.0", "id": "u", "method": "tasks/explode", "params": {}}))
    assert unknown["id"] == "u"
    assert unknown["error"]["code"] == -32601

    assert rpc_error(pais, "tasks/get", {})["code"] == -32602
    assert rpc_error(pais, "message/send", {"message": {"role": "robot", "parts": []}})["code"] == -32602
    assert rpc_error(pais, "message/send", {"message": user_message("   ")})["code"] == -32602
    assert rpc_error(pais, "message/send", {"message": user_message("hi", "bad context id")})["code"] == -32602
    assert rpc_error(pais, "tasks/get", {"id": "no-such-task"})["code"] == -32001
    assert rpc_error(pais, "GetTask", {"id": "no-such-task"})["code"] == -32001
    assert rpc_error(pais, "tasks/cancel", {"id": "no-such-task"})["code"] == -32001
    assert rpc_error(pais, "tasks/list", {"pageToken": "garbage"})["code"] == -32602
    assert rpc_error(pais, "tasks/resubscribe", {"id": "x"})["code"] == -32001
    assert rpc_error(pais, "SubscribeToTask", {"id": "x"})["code"] == -32001


def test_unpaired_surrogates_are_invalid_params_and_listings_stay_readable(pais: Served) -> None:
    lone = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": user_message("a\ud800")}}
    in_metadata = {**lone, "id": "two", "params": {"message": {**user_message("hi"), "metadata": {"note": "\udc00"}}}}
    in_the_id = {**lone, "id": "\ud800"}
    for request, request_id in ((lone, 1), (in_metadata, "two"), (in_the_id, None)):
        response = pais.http.post("/", content=json.dumps(request), headers={"Content-Type": "application/json"})
        assert response.status_code == 200
        answer = response.json()
        assert answer["id"] == request_id
        assert answer["error"]["code"] == -32602, answer
        assert "unpaired UTF-16 surrogates" in answer["error"]["message"]

    assert rpc(pais, "tasks/list", {})["tasks"] == []
    assert rpc(pais, "message/send", {"message": user_message("fine")})["status"]["state"] == "completed"


def test_too_deep_or_nan_bodies_are_parse_errors(pais: Served) -> None:
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b'{"id": NaN}'):
        response = pais.http.post("/", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200
        assert response.json()["error"]["code"] == -32700, response.text


def test_bad_depth_header_is_invalid_params(pais: Served) -> None:
    answer = rpc_raw(pais, "message/send", {"message": user_message("hi")}, headers={DEPTH_HEADER: "deep"})
    assert answer["error"]["code"] == -32602
    assert DEPTH_HEADER in answer["error"]["message"]


def test_stream_errors_before_the_stream_are_plain_json_rpc_errors(pais: Served) -> None:
    request = {"jsonrpc": "2.0", "id": 9, "method": "message/stream", "params": {"message": user_message(" ")}}
    response = pais.http.post("/", json=request)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == -32602
