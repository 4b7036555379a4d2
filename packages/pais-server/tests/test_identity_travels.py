"""Identity travels: each caller's token reaches the MCP server (forwarded) and the worker agent
(exchanged, RFC 8693, with the agent as actor), with the agent's own token beside it, never another's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pais_testing.identity_provider import IdentityProvider
from pais_testing.mcp_server import McpTestServer
from pais_testing.threaded_server import ThreadedServer
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from starlette.types import ASGIApp, Receive, Scope, Send

from pais_core import Settings
from pais_server import create_app

from .conftest import Served, ServeFactory

pytestmark = pytest.mark.timeout(180)

AGENT_CLIENT, AGENT_SECRET = "orchestrator-agent", "agent-secret"
REQUESTS = 50


class HeaderRecorder:
    """ASGI middleware keeping the headers of every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider(clients={AGENT_CLIENT: AGENT_SECRET}) as provider:
        yield provider


@pytest.fixture(scope="module")
def worker(idp: IdentityProvider) -> Iterator[tuple[str, HeaderRecorder]]:
    """A PAIS worker that accepts only tokens issued for audience `worker`."""
    settings = Settings(
        agent_name="worker",
        debug_mock_responses=("worker done",),
        auth_jwks_url=idp.jwks_url,
        auth_issuer=idp.issuer,
        auth_audience="worker",
    )
    recorder = HeaderRecorder(create_app(settings))
    with ThreadedServer(recorder) as server:
        yield server.base_url, recorder


@pytest.fixture(scope="module")
def tools() -> Iterator[McpTestServer]:
    with McpTestServer(name="tools") as server:
        yield server


def _use_tools_then_answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Calls `echo` and the worker with the prompt, then answers `done`."""
    last = messages[-1]
    if isinstance(last, ModelRequest) and any(isinstance(part, UserPromptPart) for part in last.parts):
        prompt = next(str(part.content) for part in last.parts if isinstance(part, UserPromptPart))
        return ModelResponse(
            parts=[
                ToolCallPart("echo", {"text": prompt}),
                ToolCallPart("delegate_to_worker", {"task": prompt}),
            ]
        )
    return ModelResponse(parts=[TextPart("done")])


def _claims(header: str | None) -> dict[str, Any]:
    assert header is not None
    scheme, _, token = header.partition(" ")
    assert scheme == "Bearer"
    return jwt.decode(token, options={"verify_signature": False})


def test_each_caller_reaches_tools_and_workers_with_its_own_token(
    serve_pais: ServeFactory, idp: IdentityProvider, worker: tuple[str, HeaderRecorder], tools: McpTestServer
) -> None:
    worker_url, worker_headers = worker
    exchange = {"issuer": idp.issuer, "token_endpoint": idp.token_url, "targets": ["worker"]}
    orchestrator = serve_pais(
        Agent(FunctionModel(_use_tools_then_answer)),
        auth_jwks_url=idp.jwks_url,
        auth_issuer=idp.issuer,
        auth_audience="orchestrator",
        agent_auth_client_id=AGENT_CLIENT,
        agent_auth_client_secret=AGENT_SECRET,
        token_exchange=json.dumps(exchange),
        sub_agents=[{"name": "worker", "url": worker_url}],
        mcp_servers=[{"name": "tools", "url": tools.base_url, "auth": "forward"}],
    )
    tokens = {name: idp.issue(name, audience="orchestrator") for name in ("alice", "bob")}

    async def one(i: int, client: httpx.AsyncClient) -> None:
        name = ("alice", "bob")[i % 2]
        body = {"messages": [{"role": "user", "content": f"{name}-{i}"}]}
        headers = {"Authorization": f"Bearer {tokens[name]}", "X-Session-ID": f"{name}-{i}"}
        response = await client.post(f"{orchestrator.url}/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text

    async def all_requests() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            await asyncio.gather(*(one(i, client) for i in range(REQUESTS)))

    asyncio.run(all_requests())

    calls = [r for r in tools.requests() if '"tools/call"' in r["body"]]
    assert len(calls) == REQUESTS
    for call in calls:
        caller = json.loads(call["body"])["params"]["arguments"]["text"].split("-")[0]
        assert call["headers"]["authorization"] == f"Bearer {tokens[caller]}"  # forwarded as received
        assert _claims(call["headers"]["x-agent-authorization"])["sub"] == AGENT_CLIENT

    delegations = [h for h in worker_headers.seen if "x-session-id" in h]
    assert len(delegations) == REQUESTS
    for headers in delegations:
        caller = headers["x-session-id"].split("-")[0]
        exchanged = idp.decode(headers["authorization"].removeprefix("Bearer "), audience="worker")
        assert exchanged["sub"] == caller
        assert exchanged["act"] == {"sub": AGENT_CLIENT}
        assert headers["authorization"] != f"Bearer {tokens[caller]}"
        assert _claims(headers["x-agent-authorization"])["sub"] == AGENT_CLIENT
    # one exchange per caller: later calls reuse the cached token
    assert sorted(e["subject"] for e in idp.exchanges) == ["alice", "bob"]


def _report_tool_results(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Like `_use_tools_then_answer`, but answers with what the tools returned."""
    last = messages[-1]
    if isinstance(last, ModelRequest) and any(isinstance(part, UserPromptPart) for part in last.parts):
        return _use_tools_then_answer(messages, info)
    assert isinstance(last, ModelRequest)
    return ModelResponse(parts=[TextPart(" | ".join(str(getattr(part, "content", "")) for part in last.parts))])


def test_a_refused_exchange_fails_the_delegation_and_leaks_no_token(
    serve_pais: ServeFactory,
    idp: IdentityProvider,
    worker: tuple[str, HeaderRecorder],
    tools: McpTestServer,
    tmp_path: Path,
) -> None:
    worker_url, worker_headers = worker
    agent_token = idp.issue("file-agent", audience=idp.issuer)
    token_file = tmp_path / "agent-token"
    token_file.write_text(agent_token)
    exchange = {"issuer": idp.issuer, "token_endpoint": f"{idp.issuer}/no-such-endpoint", "targets": ["worker"]}
    orchestrator = serve_pais(
        Agent(FunctionModel(_report_tool_results)),
        auth_jwks_url=idp.jwks_url,
        auth_issuer=idp.issuer,
        auth_audience="orchestrator",
        agent_auth_token_file=str(token_file),
        token_exchange=json.dumps(exchange),
        sub_agents=[{"name": "worker", "url": worker_url}],
        mcp_servers=[{"name": "tools", "url": tools.base_url}],
    )
    caller = idp.issue("carol", audience="orchestrator")
    headers = {"Authorization": f"Bearer {caller}", "X-Session-ID": "carol-refused"}
    body = {"messages": [{"role": "user", "content": "carol-refused"}]}
    response = orchestrator.http.post("/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 200, response.text
    answer = response.json()["choices"][0]["message"]["content"]
    assert "refused the token-exchange grant: HTTP 404" in answer
    assert not any(h.get("x-session-id") == "carol-refused/worker" for h in worker_headers.seen)
    echo_calls = [r for r in tools.requests() if '"carol-refused"' in r["body"]]
    assert len(echo_calls) == 1  # `none`: no caller token, only the agent's own (from the file)
    assert "authorization" not in echo_calls[0]["headers"]
    assert echo_calls[0]["headers"]["x-agent-authorization"] == f"Bearer {agent_token}"
    events = orchestrator.http.get("/memory/events", params={"session_id": "carol-refused"}, headers=headers)
    assert events.status_code == 200
    for text in (response.text, events.text):
        assert caller not in text
        assert agent_token not in text


AGENT_IDENTITY = "kaos://agent/identity-tests/orchestrator"
GOAL = "goal-of-the-agent"


def _rpc(served: Served, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = served.http.post("/", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def _ended(served: Served, token: str, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = _rpc(served, token, "tasks/get", {"id": task_id})["result"]
        if task["status"]["state"] in ("completed", "failed", "canceled"):
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not end")


def test_autonomous_tasks_act_for_whoever_started_them_and_the_goal_for_the_agent(
    serve_pais: ServeFactory, idp: IdentityProvider, worker: tuple[str, HeaderRecorder], tools: McpTestServer
) -> None:
    worker_url, worker_headers = worker
    exchange = {"issuer": idp.issuer, "token_endpoint": idp.token_url, "targets": ["worker"]}
    orchestrator = serve_pais(
        Agent(FunctionModel(_use_tools_then_answer)),
        auth_jwks_url=idp.jwks_url,
        auth_issuer=idp.issuer,
        auth_audience="orchestrator",
        auth_admin_claim="roles=pais-admin",
        agent_auth_identity=AGENT_IDENTITY,
        agent_api_key="static-key",
        agent_auth_client_id=AGENT_CLIENT,
        agent_auth_client_secret=AGENT_SECRET,
        token_exchange=json.dumps(exchange),
        sub_agents=[{"name": "worker", "url": worker_url}],
        mcp_servers=[{"name": "tools", "url": tools.base_url, "auth": "forward"}],
        autonomous_goal=GOAL,
        task_max_iterations=1,
    )
    alice, bob = (idp.issue(name, audience="orchestrator") for name in ("alice", "bob"))
    admin = idp.issue("root", audience="orchestrator", roles=["pais-admin"])
    message = {
        "role": "user",
        "messageId": "m-auto",
        "contextId": "alice-auto",
        "parts": [{"kind": "text", "text": "alice-auto"}],
    }
    started = _rpc(orchestrator, alice, "message/send", {"message": message, "configuration": {"mode": "autonomous"}})
    task_id = started["result"]["id"]
    task = _ended(orchestrator, alice, task_id)
    assert task["status"]["state"] == "completed", task
    assert task["events"][0] == {**task["events"][0], "type": "task.submitted", "data": {"by": "alice"}}
    for method in ("tasks/get", "tasks/cancel"):
        assert _rpc(orchestrator, bob, method, {"id": task_id})["error"]["code"] == -32001
    listed = _rpc(orchestrator, bob, "tasks/list", {})["result"]["tasks"]
    assert task_id not in [t["id"] for t in listed]

    # alice's run called the MCP server with her token and the worker with her token exchanged
    (echo,) = [r for r in tools.requests() if '"tools/call"' in r["body"] and '"alice-auto"' in r["body"]]
    assert echo["headers"]["authorization"] == f"Bearer {alice}"
    assert _claims(echo["headers"]["x-agent-authorization"])["sub"] == AGENT_CLIENT
    (delegated,) = [h for h in worker_headers.seen if h.get("x-session-id") == "alice-auto/worker"]
    exchanged = idp.decode(delegated["authorization"].removeprefix("Bearer "), audience="worker")
    assert (exchanged["sub"], exchanged["act"]) == ("alice", {"sub": AGENT_CLIENT})

    # the start-up goal is the agent's own task, run with the agent's own token as the subject
    tasks = _rpc(orchestrator, admin, "tasks/list", {})["result"]["tasks"]
    (goal,) = [t for t in tasks if t["history"][0]["parts"][0]["text"] == GOAL]
    goal = _ended(orchestrator, admin, goal["id"])
    assert goal["status"]["state"] == "completed", goal
    assert goal["events"][0]["data"] == {"by": AGENT_IDENTITY}
    for caller in (alice, bob):
        assert _rpc(orchestrator, caller, "tasks/get", {"id": goal["id"]})["error"]["code"] == -32001
        assert _rpc(orchestrator, caller, "tasks/cancel", {"id": goal["id"]})["error"]["code"] == -32001
    for operator in (admin, "static-key"):  # the agent's operators reach its own task (it has ended: not cancelable)
        assert _rpc(orchestrator, operator, "tasks/get", {"id": goal["id"]})["result"]["id"] == goal["id"]
        assert _rpc(orchestrator, operator, "tasks/cancel", {"id": goal["id"]})["error"]["code"] == -32002
    assert _rpc(orchestrator, "static-key", "tasks/get", {"id": task_id})["error"]["code"] == -32001
    (echo,) = [r for r in tools.requests() if '"tools/call"' in r["body"] and f'"{GOAL}"' in r["body"]]
    assert _claims(echo["headers"]["authorization"])["sub"] == AGENT_CLIENT
    assert _claims(echo["headers"]["x-agent-authorization"])["sub"] == AGENT_CLIENT
    (delegated,) = [h for h in worker_headers.seen if h.get("x-session-id") == f"{goal['contextId']}/worker"]
    exchanged = idp.decode(delegated["authorization"].removeprefix("Bearer "), audience="worker")
    assert (exchanged["sub"], exchanged["act"]) == (AGENT_CLIENT, {"sub": AGENT_CLIENT})


def test_the_card_advertises_the_agents_own_identity(serve_pais: ServeFactory) -> None:
    card = serve_pais(agent_auth_identity=AGENT_IDENTITY).http.get("/.well-known/agent-card.json").json()
    (extension,) = card["capabilities"]["extensions"]
    assert extension["uri"] == "urn:pais:extension:agent-identity:v1"
    assert extension["params"] == {"identity": AGENT_IDENTITY}
