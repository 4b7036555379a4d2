"""Approvals across real replica processes: paused on one, both restarted, approved on the other."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pais_testing.mcp_server import McpTestServer
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import redis_replica_env, replicas
from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call

ASK = [{"role": "user", "content": "What is 1 + 2?"}]


def _tool_calls(server: McpTestServer) -> int:
    bodies = [json.loads(request["body"]) for request in server.requests() if request["body"]]
    return sum(1 for body in bodies if isinstance(body, dict) and body.get("method") == "tools/call")


def _chat(url: str, messages: list[dict[str, Any]], session_id: str | None = None) -> httpx.Response:
    headers = {"X-Session-ID": session_id} if session_id else {}
    return httpx.post(f"{url}/v1/chat/completions", json={"messages": messages}, headers=headers, timeout=30)


def _decided(call: dict[str, Any], decision: dict[str, Any]) -> list[dict[str, Any]]:
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    return [*ASK, assistant, {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(decision)}]


@pytest.mark.redis
def test_pauses_survive_a_restart_and_are_decided_on_the_other_replica() -> None:
    with RedisServer() as redis, McpTestServer() as tools, ScriptedModelServer() as model:
        model.handler = scripted(tool_call("add", a=1, b=2), "Answered.")
        env = redis_replica_env(
            model.url,
            redis.url,
            lock_timeout=2,
            MCP_SERVERS="python-runner",
            MCP_SERVER_PYTHON_RUNNER_URL=tools.base_url,
            TOOLS_REQUIRE_APPROVAL="python-runner.*",
        )
        with replicas(2, env) as (first, _):
            paused = [_chat(first, ASK, session_id) for session_id in ("to-approve", "to-deny", "by-id")]
        calls = []
        for response in paused:
            body = response.json()
            [call] = body["choices"][0]["message"]["tool_calls"]
            assert body["choices"][0]["finish_reason"] == "tool_calls"
            assert body["pending_approvals"] == [call["id"]]
            calls.append(call)
        assert _tool_calls(tools) == 0

        with replicas(2, env) as (_, second):  # both restarted
            approved = _chat(second, _decided(calls[0], {"approved": True}), "to-approve")
            again = _chat(second, _decided(calls[0], {"approved": True}), "to-approve")
            assert _tool_calls(tools) == 1
            denied = _chat(second, _decided(calls[1], {"approved": False, "reason": "not now"}), "to-deny")
            [tool_message] = [m for m in model.calls[-1].messages if m["role"] == "tool"]
            by_id = [
                httpx.post(
                    f"{second}/approvals/{calls[2]['id']}",
                    params={"session_id": "by-id", "wait": 30},
                    json={"approved": True},
                    timeout=60,
                )
                for _ in range(2)
            ]

        assert approved.status_code == 200, approved.text
        assert approved.json()["choices"][0]["message"]["content"] == "Answered."
        assert again.status_code == 400  # decided once: nothing awaits approval any more
        assert denied.json()["choices"][0]["message"]["content"] == "Answered."
        assert [r.status_code for r in by_id] == [200, 409]
        assert (by_id[0].json()["status"], by_id[0].json()["output"]) == ("completed", "Answered.")
        assert _tool_calls(tools) == 2  # the denied call never ran; the one approved by id ran once
        assert "not now" in tool_message["content"]
