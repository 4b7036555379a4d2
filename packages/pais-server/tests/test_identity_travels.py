"""Identity travels: each caller's token reaches the MCP server (forwarded) and the worker agent
(exchanged, RFC 8693, with the agent as actor), with the agent's own token beside it, never another's."""

from __future__ import annotations

import asyncio
import json
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

from .conftest import ServeFactory

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
