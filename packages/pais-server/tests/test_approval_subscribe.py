"""A subscriber follows an A2A task across its approval pause: `input-required` does not end the run log."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pais_testing.agent_processes import a2a_user_message

from . import test_approvals
from .conftest import Served
from .test_a2a_server import rpc

ran, shop = test_approvals.ran, test_approvals.shop  # the shop whose `refund` needs approval, and its refunds


def state_of(event: dict[str, Any]) -> str:
    return event["status"]["state"]


def test_a_subscription_replays_the_pause_and_follows_the_task_past_the_decision(shop: Served, ran: list[str]) -> None:
    task = rpc(shop, "message/send", {"message": a2a_user_message("Refund order 42", "ctx-follow-pause")})
    assert task["status"]["state"] == "input-required"
    [call_id] = [
        a["id"] for p in task["status"]["message"]["parts"] if p["kind"] == "data" for a in p["data"]["approvals"]
    ]
    subscribe = {"jsonrpc": "2.0", "id": 3, "method": "tasks/resubscribe", "params": {"id": task["id"]}}

    events: list[dict[str, Any]] = []
    with shop.http.stream("POST", "/", json=subscribe, headers={"Accept": "text/event-stream"}) as response:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            events.append(json.loads(line.removeprefix("data:"))["result"])
            if len(events) == 1:  # the task as it is now: decide while the subscription follows it
                assert events[0]["kind"] == "task"
                assert state_of(events[0]) == "input-required"
                decision = {
                    "kind": "message",
                    "role": "user",
                    "messageId": uuid.uuid4().hex,
                    "taskId": task["id"],
                    "contextId": task["contextId"],
                    "parts": [{"kind": "data", "data": {"decisions": {call_id: {"approved": True}}}}],
                }
                assert rpc(shop, "message/send", {"message": decision})["status"]["state"] == "completed"

    states = [state_of(e) for e in events if e["kind"] in ("task", "status-update")]
    # now, then the log from the start: working, the pause, working again after the decision, completed
    assert states == ["input-required", "working", "input-required", "working", "completed"]
    assert events[-1]["final"] is True
    assert ran == ["42"]
