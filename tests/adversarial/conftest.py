"""The adversarial campaign's targets and its one rule book.

Real PAIS servers on loopback: local memory and Redis memory, each talking to a scripted model
API over HTTP, plus a local one behind `AGENT_API_KEY`. Every request goes through `Probe`, one
keep-alive connection per target that checks what must hold for any input:

- never a 5xx, except 502/503/504 for a failed dependency;
- every error in the endpoint's own shape (OpenAI body on `/v1/*` and `/memory/*`, JSON-RPC on `POST /`);
- the same connection answers the next request (the server never drops it after an error).

The tally (requests per class, 5xx seen) is printed at the end of the run.
"""

from __future__ import annotations

import http.client
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pais_testing.identity_provider import IdentityProvider
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call
from pais_testing.threaded_server import ThreadedServer
from pydantic_ai import Agent

from pais_core import Settings
from pais_server import create_app

API_KEY = "adversarial-key"
AUDIENCE = "adv-approvals"
DEPENDENCY_FAILURES = {502, 503, 504}
TALLY: Counter[str] = Counter()
STATUSES: Counter[tuple[str, str]] = Counter()
FIVE_XX: list[str] = []


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Probe:
    """One keep-alive HTTP/1.1 connection to a PAIS server, checking the campaign's rules on every answer."""

    name: str
    port: int
    key: str | None = None
    _connection: http.client.HTTPConnection | None = field(default=None, repr=False)

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        authorized: bool = True,
    ) -> Answer:
        """Send one request of class `kind`; the answer has already passed the rules."""
        TALLY[kind] += 1
        sent = {"Content-Type": "application/json", **(headers or {})}
        if authorized and self.key:
            sent.setdefault("Authorization", f"Bearer {self.key}")
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection = self._connection
        connection.request(method, path, body=body, headers=sent)
        socket = connection.sock
        response = connection.getresponse()
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        STATUSES[kind, _outcome(method, path, answer)] += 1
        where = f"{self.name} {kind} {method} {path[:200]} {(body or b'')[:200]!r}"
        if answer.status >= 500:
            TALLY["(dependency 5xx)" if answer.status in DEPENDENCY_FAILURES else "(other 5xx)"] += 1
            FIVE_XX.append(f"{answer.status} {where}: {answer.body[:300]!r}")
        assert answer.status < 500 or answer.status in DEPENDENCY_FAILURES, f"{answer.status} {where}: {answer.body!r}"
        check_shape(method, path, answer, where)
        if answer.headers.get("connection", "").lower() == "close":
            connection.close()
            self._connection = None
        else:
            assert connection.sock is socket, f"the server dropped the connection after {where}"
        return answer

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def _outcome(method: str, path: str, answer: Answer) -> str:
    """The status, or for a JSON-RPC answer its error code (`rpc ok` for a result, `sse` for a stream)."""
    if path != "/" or method != "POST" or answer.status != 200:
        return str(answer.status)
    if "text/event-stream" in answer.headers.get("content-type", ""):
        return "sse"
    error = answer.json().get("error")
    return f"rpc {error['code']}" if error else "rpc ok"


def check_shape(method: str, path: str, answer: Answer, where: str) -> None:
    """An error answer is in its endpoint's error shape."""
    if path.partition("?")[0] == "/" and method == "POST":
        if "text/event-stream" in answer.headers.get("content-type", ""):
            return
        if answer.status == 401:  # a JSON-RPC error sent with the HTTP status of the refusal
            reply = answer.json()
            assert reply["jsonrpc"] == "2.0", where
            assert isinstance(reply["error"]["code"], int), where
            assert reply["error"]["message"], where
            return
        assert answer.status in (200, 413), f"{where}: JSON-RPC answers are HTTP 200: {answer.body!r}"
        if answer.status == 200:
            reply = answer.json()
            assert reply["jsonrpc"] == "2.0", where
            assert ("result" in reply) != ("error" in reply), where
            if "error" in reply:
                assert isinstance(reply["error"]["code"], int), where
                assert reply["error"]["message"], where
                assert reply["error"]["code"] != -32603, f"internal error: {where}: {reply}"
            return
    if answer.status >= 400:
        error = json.loads(answer.body)["error"]
        assert isinstance(error["message"], str), where
        assert error["message"], where
        assert isinstance(error["type"], str), where


@pytest.fixture(scope="session")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def _settings(name: str, model: ScriptedModelServer, **extra: Any) -> Settings:
    return Settings(
        agent_name=name,
        model_api_url=model.url,
        model_name="scripted",
        tool_call_mode="native",
        session_lock_timeout_seconds=2,
        **extra,
    )


@pytest.fixture(scope="session")
def servers(model: ScriptedModelServer, redis: RedisServer) -> Iterator[dict[str, ThreadedServer]]:
    """Three PAIS servers for the whole campaign: local memory, Redis memory, local behind a key."""
    apps = {
        "local": create_app(_settings("adv-local", model)),
        "redis": create_app(_settings("adv-redis", model, memory_type="redis", memory_redis_url=redis.url)),
        "keyed": create_app(_settings("adv-keyed", model, agent_api_key=API_KEY)),
    }
    started = {name: ThreadedServer(app).start() for name, app in apps.items()}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(params=["local", "redis", "keyed"])
def probe(request: pytest.FixtureRequest, servers: dict[str, ThreadedServer]) -> Iterator[Probe]:
    """A fresh keep-alive connection to one target (with the key where one is needed)."""
    name: str = request.param
    probe = Probe(name, servers[name].port, API_KEY if name == "keyed" else None)
    yield probe
    probe.close()


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture(scope="session")
def approval_servers(redis: RedisServer, idp: IdentityProvider) -> Iterator[dict[str, ThreadedServer]]:
    """Servers whose `refund` tool needs approval, with a model that first calls it, then answers "Done.".

    Local memory, Redis memory, and a local one behind `AGENT_API_KEY` that also accepts `idp`'s tokens.
    """
    agent = Agent(name="adv-shop")

    @agent.tool_plain
    def refund(order: str) -> str:
        """Refund an order."""
        return f"order {order} refunded"

    with ScriptedModelServer(scripted(tool_call("refund", order="42"), "Done.")) as model:
        keyed = {"agent_api_key": API_KEY, "auth_jwks_url": idp.jwks_url, "auth_issuer": idp.issuer}
        apps = {
            "local": create_app(_settings("adv-ap-local", model, tools_require_approval="refund"), agent),
            "redis": create_app(
                _settings(
                    "adv-ap-redis",
                    model,
                    tools_require_approval="refund",
                    memory_type="redis",
                    memory_redis_url=redis.url,
                ),
                agent,
            ),
            "keyed": create_app(
                _settings("adv-ap-keyed", model, tools_require_approval="refund", auth_audience=AUDIENCE, **keyed),
                agent,
            ),
        }
        started = {name: ThreadedServer(app).start() for name, app in apps.items()}
        yield started
        for server in started.values():
            server.stop()


@pytest.fixture(params=["local", "redis", "keyed"])
def approval_probe(request: pytest.FixtureRequest, approval_servers: dict[str, ThreadedServer]) -> Iterator[Probe]:
    """A keep-alive connection to one server with approvals (with the key where one is needed)."""
    name: str = request.param
    probe = Probe(f"approvals-{name}", approval_servers[name].port, API_KEY if name == "keyed" else None)
    yield probe
    probe.close()


@pytest.fixture
def intruder(approval_servers: dict[str, ThreadedServer], idp: IdentityProvider) -> Iterator[Probe]:
    """Another principal (`mallory`, a token) on the keyed approvals server, where the key's principal pauses runs."""
    probe = Probe("intruder", approval_servers["keyed"].port, idp.issue("mallory", audience=AUDIENCE))
    yield probe
    probe.close()


@pytest.fixture
def keyed_probe(servers: dict[str, ThreadedServer]) -> Iterator[Probe]:
    """A keep-alive connection to the server behind `AGENT_API_KEY`."""
    probe = Probe("keyed", servers["keyed"].port, API_KEY)
    yield probe
    probe.close()


def assert_still_readable(probe: Probe) -> None:
    """Every stored session's events and the A2A task listing (both dialects) still answer 200."""
    cursor: str | None = None
    while True:
        query = "/memory/sessions?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        page = probe.request("readback", "GET", query)
        assert page.status == 200, page.body
        for session_id in page.json()["sessions"]:
            events = probe.request("readback", "GET", f"/memory/events?limit=1000&session_id={_quote(session_id)}")
            assert events.status == 200, events.body
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    for method in ("tasks/list", "ListTasks"):
        listing = probe.request("readback", "POST", "/", _rpc(method, {}))
        assert "result" in listing.json(), listing.body


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _rpc(method: str, params: Any, request_id: Any = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not TALLY:
        return
    terminalreporter.section("adversarial campaign")
    for kind, count in sorted(TALLY.items()):
        statuses = ", ".join(f"{status}: {n}" for (k, status), n in sorted(STATUSES.items()) if k == kind)
        terminalreporter.write_line(f"{kind:>24}: {count} requests" + (f" ({statuses})" if statuses else ""))
    sent = sum(count for kind, count in TALLY.items() if not kind.startswith("("))
    terminalreporter.write_line(f"{'total':>24}: {sent} requests, {len(FIVE_XX)} answered 5xx")
    for line in FIVE_XX[:20]:
        terminalreporter.write_line(f"  {line}")
