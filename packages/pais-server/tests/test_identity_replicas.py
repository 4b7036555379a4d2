"""Sessions belong to their principal: two Redis-backed replicas with verified callers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pais_testing.identity_provider import IdentityProvider
from pais_testing.redis_server import RedisServer
from pais_testing.replicas import echo_with_history, redis_replica_env, replicas
from pais_testing.scripted_model import ScriptedModelServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

AUDIENCE = "shared-agent"
STATIC_KEY = "static-key"


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def pair(idp: IdentityProvider) -> Iterator[list[str]]:
    with RedisServer() as redis, ScriptedModelServer(echo_with_history) as model:
        env = redis_replica_env(
            model.url,
            redis.url,
            lock_timeout=5,
            AUTH_JWKS_URL=idp.jwks_url,
            AUTH_ISSUER=idp.issuer,
            AUTH_AUDIENCE=AUDIENCE,
            AUTH_ADMIN_CLAIM="roles=pais-admin",
            AGENT_API_KEY=STATIC_KEY,
        )
        with replicas(2, env) as urls:
            yield urls


class Caller:
    """One principal's HTTP client, against either replica (with the static key when `token` is given)."""

    def __init__(self, idp: IdentityProvider, name: str, *, token: str | None = None, **claims: Any) -> None:
        token = token or idp.issue(name, audience=AUDIENCE, **claims)
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def chat(self, url: str, session_id: str, prompt: str) -> httpx.Response:
        body = {"messages": [{"role": "user", "content": prompt}]}
        return self.http.post(f"{url}/v1/chat/completions", json=body, headers={"X-Session-ID": session_id})

    def sessions(self, url: str) -> list[str]:
        response = self.http.get(f"{url}/memory/sessions")
        assert response.status_code == 200, response.text
        return response.json()["sessions"]

    def rpc(self, url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{url}/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        assert response.status_code == 200, response.text
        return response.json()


def _send(context_id: str, text: str) -> dict[str, Any]:
    message = {"role": "user", "messageId": f"m-{context_id}-{text}", "contextId": context_id}
    return {"message": {**message, "parts": [{"kind": "text", "text": text}]}}


@pytest.fixture(scope="module")
def callers(idp: IdentityProvider, pair: list[str]) -> Iterator[dict[str, Caller]]:
    found = {
        "alice": Caller(idp, "alice"),
        "bob": Caller(idp, "bob"),
        "root": Caller(idp, "root", roles=["pais-admin"]),
        "key": Caller(idp, "api-key", token=STATIC_KEY),
    }
    yield found
    for caller in found.values():
        caller.http.close()


def test_alice_cannot_read_continue_or_list_bobs_sessions(pair: list[str], callers: dict[str, Caller]) -> None:
    alice, bob, root = callers["alice"], callers["bob"], callers["root"]
    first, second = pair
    assert bob.chat(first, "bob-chat", "hello").status_code == 200
    assert alice.chat(second, "alice-chat", "hi").status_code == 200
    for url in pair:
        continued = alice.chat(url, "bob-chat", "let me in")
        assert continued.status_code == 404
        assert continued.json()["error"]["code"] == "not_found"
        events = alice.http.get(f"{url}/memory/events", params={"session_id": "bob-chat"})
        assert events.status_code == 404
        assert "alice-chat" in alice.sessions(url)
        assert "bob-chat" not in alice.sessions(url)
        assert "alice-chat" not in bob.sessions(url)
        assert {"alice-chat", "bob-chat"} <= set(root.sessions(url))
        assert root.http.get(f"{url}/memory/events", params={"session_id": "bob-chat"}).status_code == 200
    # bob's session holds only bob's turn: the refused attempts left nothing behind
    events = bob.http.get(f"{first}/memory/events", params={"session_id": "bob-chat"}).json()["events"]
    assert [event["content"] for event in events if event["event_type"] == "user_message"] == ["hello"]


def test_alice_cannot_get_cancel_continue_or_list_bobs_tasks(pair: list[str], callers: dict[str, Caller]) -> None:
    alice, bob, root = callers["alice"], callers["bob"], callers["root"]
    first, second = pair
    sent = bob.rpc(first, "message/send", _send("bob-ctx", "task please"))
    task_id = sent["result"]["id"]
    mine = alice.rpc(second, "message/send", _send("alice-ctx", "mine"))["result"]["id"]
    for url in pair:
        got = alice.rpc(url, "tasks/get", {"id": task_id})
        assert got["error"]["code"] == -32001
        assert got["error"]["message"] == f"task {task_id} not found"
        assert alice.rpc(url, "tasks/cancel", {"id": task_id})["error"]["code"] == -32001
        assert alice.rpc(url, "message/send", _send("bob-ctx", "hijack"))["error"]["code"] == -32001
        assert alice.rpc(url, "tasks/list", {"contextId": "bob-ctx"})["error"]["code"] == -32001
        listed = [task["id"] for task in alice.rpc(url, "tasks/list", {})["result"]["tasks"]]
        assert mine in listed
        assert task_id not in listed
        assert bob.rpc(url, "tasks/get", {"id": task_id})["result"]["id"] == task_id
        assert {task_id, mine} <= {task["id"] for task in root.rpc(url, "tasks/list", {})["result"]["tasks"]}


def test_the_static_key_is_its_own_principal(
    idp: IdentityProvider, pair: list[str], callers: dict[str, Caller]
) -> None:
    alice, key, root = callers["alice"], callers["key"], callers["root"]
    first, second = pair
    assert key.chat(first, "key-chat", "hello").status_code == 200
    task_id = key.rpc(second, "message/send", _send("key-ctx", "task please"))["result"]["id"]
    assert alice.chat(first, "alice-own", "hi").status_code == 200
    for url in pair:
        # a verified caller can neither claim nor read what the static key started
        assert alice.chat(url, "key-chat", "mine now").status_code == 404
        assert alice.http.get(f"{url}/memory/events", params={"session_id": "key-chat"}).status_code == 404
        assert alice.rpc(url, "tasks/get", {"id": task_id})["error"]["code"] == -32001
        assert alice.rpc(url, "message/send", _send("key-ctx", "hijack"))["error"]["code"] == -32001
        assert not {"key-chat", "key-ctx"} & set(alice.sessions(url))
        # the static key lists and reads its own (MEMORY_READ_SCOPE=principal), and nobody else's
        assert {"key-chat", "key-ctx"} <= set(key.sessions(url))
        assert "alice-own" not in key.sessions(url)
        assert key.http.get(f"{url}/memory/events", params={"session_id": "alice-own"}).status_code == 404
        assert key.chat(url, "alice-own", "let me in").status_code == 404
        assert key.rpc(url, "tasks/get", {"id": task_id})["result"]["id"] == task_id
        assert {"key-chat", "key-ctx", "alice-own"} <= set(root.sessions(url))
    # its sessions stay its own: the key continues them on either replica
    assert key.chat(second, "key-chat", "again").status_code == 200
    # a token cannot pose as the static key's principal
    impostor = Caller(idp, "api-key")
    refused = impostor.http.get(f"{first}/memory/events", params={"session_id": "key-chat"})
    impostor.http.close()
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "invalid token: the principal 'api-key' is reserved"
