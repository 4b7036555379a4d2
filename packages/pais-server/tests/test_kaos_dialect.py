"""KAOS's UI and CLI against PAIS: their A2A requests (no `A2A-Version`) and what they read back.

The requests and the parsing are replayed by `pais_testing.kaos_clients`; the a2a-sdk client's
1.0 shapes are covered by test_a2a_sdk_client.py and the header negotiation here.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pais_testing.kaos_clients import KaosA2A, kaos_send_params
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer

from .conftest import Served

SLOW_SECONDS = 4.0


@pytest.fixture
def kaos(pais: Served, scripted_model: ScriptedModelServer) -> KaosA2A:
    def answer(call: ModelCall) -> Reply:
        if "slow" in call.last_user_text:
            return Reply(text="late", delay=SLOW_SECONDS)
        return Reply(text=f"turn {len(call.text_of('user'))}: {call.last_user_text}")

    scripted_model.handler = answer
    return KaosA2A(pais.http)


def event_types(task: dict[str, Any]) -> list[str]:
    return [event["type"] for event in task["events"]]


def test_the_ui_sends_an_interactive_message_and_reads_the_kaos_task(kaos: KaosA2A, pais: Served) -> None:
    task = kaos.send(kaos_send_params("hello", context_id="ui-1"))

    assert task["status"]["state"] == "completed"
    assert task["sessionId"] == task["contextId"] == "ui-1"
    assert task["output"] == "turn 1: hello"
    assert task["autonomous"] is False
    assert task["metadata"] == {}
    assert event_types(task) == ["task.submitted", "task.working", "task.completed"]
    for event in task["events"]:
        assert set(event) == {"id", "type", "timestamp", "data"}
        assert isinstance(event["data"], dict)
    assert [m["role"] for m in task["history"]] == ["user", "agent"]
    for message in task["history"]:
        assert all(part["type"] == part["kind"] == "text" for part in message["parts"])
    # the UI shows a task's message as `msg.parts.map(p => p.text)`; the CLI prints `type: text` artifact parts
    assert [" ".join(p["text"] for p in m["parts"]) for m in task["history"]] == ["hello", "turn 1: hello"]
    assert KaosA2A.cli_lines(task)[-2:] == ["turn 1: hello", "History (2 messages)"]

    # the context is the session: a second message sees the first, in memory
    second = kaos.send(kaos_send_params("again", context_id="ui-1"))
    assert second["output"] == "turn 2: again"
    assert [e["event_type"] for e in pais.events("ui-1")] == ["user_message", "agent_response"] * 2

    assert kaos.get(task["id"]) == task
    listed = kaos.list()
    assert [t["id"] for t in listed["tasks"]] == [second["id"], task["id"]]  # the latest update first
    assert listed["count"] == 2
    assert listed["tasks"][1] == task
    assert listed["totalSize"] == 2
    assert listed["nextPageToken"] == ""


def test_the_context_may_be_a_legacy_session_id_in_the_params_or_in_the_message(kaos: KaosA2A) -> None:
    text_part = [{"type": "text", "text": "hi"}]
    by_params = kaos.send({"message": {"role": "user", "parts": text_part}, "sessionId": "legacy-1"})
    assert by_params["sessionId"] == "legacy-1"
    in_message = kaos.send({"message": {"role": "user", "parts": text_part, "sessionId": "legacy-2"}})
    assert in_message["sessionId"] == "legacy-2"
    # the CLI's `--session-id` becomes `contextId` beside a message without `configuration`
    cli = kaos.send({"message": {"role": "user", "parts": text_part}, "contextId": "cli-1"})
    assert cli["contextId"] == "cli-1"
    fresh = kaos.send({"message": {"role": "user", "parts": text_part}})
    assert fresh["sessionId"] == fresh["contextId"] != ""


def test_a_task_canceled_by_the_ui_reads_as_text_for_the_ui(kaos: KaosA2A, scripted_model: ScriptedModelServer) -> None:
    params = kaos_send_params("slow", context_id="ui-c")
    params["configuration"]["blocking"] = False
    task = kaos.send(params)
    assert task["status"]["state"] in ("submitted", "working")
    deadline = time.monotonic() + 10
    while not scripted_model.calls and time.monotonic() < deadline:
        time.sleep(0.02)

    canceled = kaos.cancel(task["id"])
    assert canceled["status"]["state"] == "canceled"
    # the UI renders `status.message` as a React child: never an object in this dialect
    assert "message" not in canceled["status"]
    assert canceled["output"] == "canceled by request"
    assert event_types(canceled)[-1] == "task.canceled"
    assert kaos.get(task["id"])["status"]["state"] == "canceled"
    error = kaos.call("CancelTask", {"id": task["id"]})["error"]
    assert error["code"] == -32002


def test_an_unknown_task_is_a_json_rpc_error(kaos: KaosA2A) -> None:
    assert kaos.call("GetTask", {"id": str(uuid.uuid4())})["error"]["code"] == -32001


def test_the_legacy_card_lists_the_protocols_kaos_reads(kaos: KaosA2A, pais: Served) -> None:
    card = kaos.card()
    assert "jsonrpc" in card["supportedProtocols"]
    assert card["capabilities"]["streaming"] is True
    current = pais.http.get("/.well-known/agent-card.json").json()
    assert "supportedProtocols" not in current
    assert {k: v for k, v in card.items() if k != "supportedProtocols"} == current


@pytest.mark.parametrize("method", ["SendMessage", "message/send"])
def test_the_version_header_not_the_method_name_picks_the_shapes(kaos: KaosA2A, pais: Served, method: str) -> None:
    message = {"role": "user", "messageId": uuid.uuid4().hex, "parts": [{"kind": "text", "text": "hi"}]}
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": message}}

    v1 = pais.http.post("/", json=request, headers={"A2A-Version": "1.0"}).json()["result"]
    assert v1["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert "sessionId" not in v1["task"]
    assert "events" not in v1["task"]

    v03 = pais.http.post("/", json=request, headers={"A2A-Version": "0.3"}).json()["result"]
    assert v03["kind"] == "task"
    assert v03["status"]["state"] == "completed"
    assert "sessionId" not in v03
    assert "events" not in v03

    for headers in ({}, {"A2A-Version": ""}):
        kaos_task = pais.http.post("/", json=request, headers=headers).json()["result"]
        assert kaos_task["kind"] == "task"
        assert kaos_task["status"]["state"] == "completed"
        assert kaos_task["sessionId"] == kaos_task["contextId"]

    for unsupported in ("2.0", "0.2", "latest"):
        answer = pais.http.post("/", json=request, headers={"A2A-Version": unsupported}).json()
        assert answer["error"]["code"] == -32009
        assert unsupported in answer["error"]["message"]


def test_get_and_list_follow_the_header_too(kaos: KaosA2A, pais: Served) -> None:
    task = kaos.send(kaos_send_params("hi", context_id="ui-h"))
    request = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": task["id"]}}
    v1 = pais.http.post("/", json=request, headers={"A2A-Version": "1.0.0"}).json()["result"]
    assert v1["status"]["state"] == "TASK_STATE_COMPLETED"
    listing = {"jsonrpc": "2.0", "id": 2, "method": "ListTasks", "params": {"contextId": "ui-h"}}
    v03 = pais.http.post("/", json=listing, headers={"A2A-Version": "0.3"}).json()["result"]
    assert "count" not in v03
    assert v03["tasks"][0]["status"]["state"] == "completed"


def test_an_unknown_mode_is_invalid_params(kaos: KaosA2A) -> None:
    answer = kaos.call("SendMessage", kaos_send_params("hi", mode="dreaming"))
    assert answer["error"]["code"] == -32602
