"""`X-PAIS-On-Disconnect: cancel`: a streamed run stops when its client goes away; by default it finishes.

Real clients read a slow stream (the scripted model sends one word every 0.2 s) and close the
connection mid-stream; the session's stored turn (chat, Responses) or the task's state (A2A) shows
whether the run went on.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from pais_testing.agent_processes import a2a_user_message
from pais_testing.scripted_model import Reply, ScriptedModelServer

from .conftest import Served

WORDS = [f"word{n}" for n in range(10)]
CANCEL = {"X-PAIS-On-Disconnect": "cancel"}


@pytest.fixture
def slow(pais: Served, scripted_model: ScriptedModelServer) -> Served:
    scripted_model.handler = lambda call: Reply(text=" ".join(WORDS), chunk_delay=0.2)
    return pais


def read_until_first_word(served: Served, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    """Stream `body` to `path`, then drop the connection once the first word came."""
    with served.http.stream("POST", path, json=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if "word0" in line:
                return
    raise AssertionError("the stream ended before its first word")


def turn_end(served: Served, session_id: str) -> dict[str, Any]:
    """The event that ended the session's first turn (its answer, or its error), once stored."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = served.http.get("/memory/events", params={"session_id": session_id})
        events = answer.json()["events"] if answer.status_code == 200 else []  # 404: nothing stored yet
        ended = [e for e in events if e["event_type"] in ("agent_response", "error")]
        if ended:
            return ended[0]
        time.sleep(0.05)
    raise AssertionError("the turn was never stored")


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
@pytest.mark.parametrize("cancel", [False, True], ids=["default", "cancel"])
def test_a_stream_dropped_by_its_client_finishes_unless_asked_to_stop(slow: Served, path: str, cancel: bool) -> None:
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {"model": "m", "stream": True}
    if path == "/v1/responses":
        body["input"] = "go"
    else:
        body["messages"] = [{"role": "user", "content": "go"}]
    headers = {"X-Session-ID": session_id, **(CANCEL if cancel else {})}
    read_until_first_word(slow, path, body, headers)

    ended = turn_end(slow, session_id)
    if cancel:
        assert ended["event_type"] == "error", ended
    else:
        assert ended == {**ended, "event_type": "agent_response", "content": " ".join(WORDS)}


@pytest.mark.parametrize("cancel", [False, True], ids=["default", "cancel"])
def test_an_a2a_stream_dropped_by_its_client_ends_its_task_canceled_when_asked(slow: Served, cancel: bool) -> None:
    message = a2a_user_message("go", f"ctx-{uuid.uuid4().hex[:8]}")
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": {"message": message}}
    task_id = None
    with slow.http.stream("POST", "/", json=body, headers=CANCEL if cancel else {}) as response:
        for line in response.iter_lines():
            result = json.loads(line.removeprefix("data:"))["result"] if line.startswith("data:") else {}
            if result.get("kind") == "task":
                task_id = result["id"]
            if "word0" in line:
                break
    assert task_id is not None

    deadline = time.monotonic() + 20
    state = "working"
    while state == "working" and time.monotonic() < deadline:
        time.sleep(0.05)
        task = slow.http.post("/", json={"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": task_id}})
        state = task.json()["result"]["status"]["state"]
    assert state == ("canceled" if cancel else "completed")


def test_an_unknown_on_disconnect_value_is_refused_in_each_protocol(pais: Served) -> None:
    headers = {"X-PAIS-On-Disconnect": "explode"}
    chat = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    answer = pais.http.post("/v1/chat/completions", json=chat, headers=headers)
    assert answer.status_code == 400
    assert "X-PAIS-On-Disconnect" in answer.json()["error"]["message"]
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": {"message": a2a_user_message("go")}}
    answer = pais.http.post("/", json=rpc, headers=headers)
    assert answer.json()["error"]["code"] == -32602
