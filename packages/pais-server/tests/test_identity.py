"""Verified callers: signed JWTs checked against a JWKS served on loopback, beside the static key."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pais_testing.identity_provider import IdentityProvider
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from pais_core import current_principal

from .conftest import Served, ServeFactory

AUDIENCE = "pais-test-agent"


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider() as provider:
        yield provider


def _whoami(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A model that answers with the principal of the run it serves."""
    principal = current_principal()
    return ModelResponse(parts=[TextPart(principal.id if principal else "nobody")])


async def _whoami_streamed(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    principal = current_principal()
    yield principal.id if principal else "nobody"


@pytest.fixture
def verified(serve_pais: ServeFactory, idp: IdentityProvider) -> Served:
    return serve_pais(
        Agent(FunctionModel(_whoami, stream_function=_whoami_streamed)),
        auth_jwks_url=idp.jwks_url,
        auth_issuer=idp.issuer,
        auth_audience=AUDIENCE,
        agent_api_key="static-key",
        auth_admin_claim="roles=pais-admin",
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _chat(served: Served, token: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": "who am I?"}]}
    return served.http.post("/v1/chat/completions", json=body, headers=_bearer(token))


def test_a_valid_token_is_accepted_and_its_principal_is_known_to_the_run(
    verified: Served, idp: IdentityProvider
) -> None:
    response = _chat(verified, idp.issue("alice", audience=AUDIENCE))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "alice"
    lowercase = verified.http.get(
        "/v1/models", headers={"Authorization": f"bearer {idp.issue('bob', audience=AUDIENCE)}"}
    )
    assert lowercase.status_code == 200


def test_the_static_key_keeps_working_beside_tokens_as_its_own_principal(verified: Served) -> None:
    response = _chat(verified, "static-key")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "api-key"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "invalid token: expired"),
        ("wrong_audience", "invalid token: wrong audience"),
        ("wrong_issuer", "invalid token: wrong issuer"),
        ("foreign_key", "invalid token: signed with an unknown key"),
        ("garbage", "invalid token: not a signed JWT"),
        ("static_key_principal", "invalid token: the principal 'api-key' is reserved"),
        ("agent_itself", "invalid token: the principal 'test-agent' is reserved"),
    ],
)
def test_bad_tokens_get_401_invalid_token(verified: Served, idp: IdentityProvider, case: str, reason: str) -> None:
    with IdentityProvider() as stranger:  # same claims, signed by keys the JWKS does not hold
        token = {
            "expired": idp.issue("alice", audience=AUDIENCE, expires_in=-120),
            "wrong_audience": idp.issue("alice", audience="another-agent"),
            "wrong_issuer": idp.issue("alice", audience=AUDIENCE, issuer="https://evil.example"),
            "foreign_key": stranger.issue("alice", audience=AUDIENCE, issuer=idp.issuer),
            "garbage": "not-a-token",
            "static_key_principal": idp.issue("api-key", audience=AUDIENCE),
            "agent_itself": idp.issue("test-agent", audience=AUDIENCE),
        }[case]
    response = _chat(verified, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["message"] == reason
    assert token not in response.text


def test_missing_credentials_get_401_and_a2a_answers_in_json_rpc(verified: Served, idp: IdentityProvider) -> None:
    missing = verified.http.post("/v1/chat/completions", json={"messages": []})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    expired = idp.issue("alice", audience=AUDIENCE, expires_in=-120)
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tasks/list", "params": {}}
    refused = verified.http.post("/", json=rpc, headers=_bearer(expired))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    body = refused.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["message"] == "invalid token: expired"


def test_a_rotated_key_is_fetched_when_a_token_names_it(verified: Served, idp: IdentityProvider) -> None:
    assert _chat(verified, idp.issue("alice", audience=AUDIENCE)).status_code == 200
    reads = idp.jwks_reads
    kid = idp.rotate()
    time.sleep(1.1)  # unknown key ids re-read the JWKS at most once a second
    response = _chat(verified, idp.issue("carol", audience=AUDIENCE, kid=kid))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "carol"
    assert idp.jwks_reads == reads + 1


def test_the_card_advertises_bearer_jwts_of_the_issuer(verified: Served, idp: IdentityProvider) -> None:
    card = verified.http.get("/.well-known/agent-card.json").json()
    scheme = card["securitySchemes"]["bearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    assert idp.issuer in scheme["description"]
    assert card["security"] == [{"bearer": []}]


@pytest.mark.parametrize("scope", ["session", "agent"])
def test_read_scopes(serve_pais: ServeFactory, idp: IdentityProvider, scope: str) -> None:
    served = serve_pais(
        Agent(FunctionModel(_whoami)),
        auth_jwks_url=idp.jwks_url,
        auth_issuer=idp.issuer,
        auth_audience=AUDIENCE,
        memory_read_scope=scope,
    )
    alice, bob = (_bearer(idp.issue(name, audience=AUDIENCE)) for name in ("alice", "bob"))
    body = {"messages": [{"role": "user", "content": "hi"}]}
    created = served.http.post("/v1/chat/completions", json=body, headers={**alice, "X-Session-ID": "alice-s"})
    assert created.status_code == 200
    own = served.http.get("/memory/events", params={"session_id": "alice-s"}, headers=alice)
    assert own.status_code == 200
    others = served.http.get("/memory/events", params={"session_id": "alice-s"}, headers=bob)
    listed = served.http.get("/memory/sessions", headers=alice).json()["sessions"]
    if scope == "session":  # own sessions by id only; listings stay empty
        assert others.status_code == 404
        assert listed == []
    else:  # every verified caller reads and lists the agent's sessions
        assert others.status_code == 200
        assert served.http.get("/memory/sessions", headers=bob).json()["sessions"] == ["alice-s"]
    continued = served.http.post("/v1/chat/completions", json=body, headers={**bob, "X-Session-ID": "alice-s"})
    assert continued.status_code == 404  # reading never lets another principal continue a session


def test_streams_responses_and_tasks_of_one_principal_stay_hidden_from_another(
    verified: Served, idp: IdentityProvider
) -> None:
    alice, bob = (_bearer(idp.issue(name, audience=AUDIENCE)) for name in ("alice", "bob"))
    ask = {"messages": [{"role": "user", "content": "who am I?"}], "stream": True}
    with verified.http.stream("POST", "/v1/chat/completions", json=ask, headers=alice) as stream:
        assert stream.status_code == 200, stream.read()
        completion_id = stream.headers["x-completion-id"]
        stream.read()
    resume = f"/v1/chat/completions/{completion_id}/events"
    assert verified.http.get(resume, headers=alice).status_code == 200
    assert verified.http.get(resume, headers=bob).status_code == 404

    created = verified.http.post("/v1/responses", json={"input": "who am I?"}, headers=alice)
    assert created.status_code == 200, created.text
    stored = f"/v1/responses/{created.json()['id']}"
    assert verified.http.get(stored, headers=alice).status_code == 200
    assert verified.http.get(stored, headers=bob).status_code == 404

    message = {"role": "user", "messageId": "m-1", "contextId": "alice-ctx", "parts": [{"kind": "text", "text": "hi"}]}
    send = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}}
    task = verified.http.post("/", json=send, headers=alice).json()["result"]
    subscribe = {"jsonrpc": "2.0", "id": 2, "method": "tasks/resubscribe", "params": {"id": task["id"]}}
    assert verified.http.post("/", json=subscribe, headers=bob).json()["error"]["code"] == -32001
    assert verified.http.post("/", json=subscribe, headers=alice).json()["error"]["code"] == -32004  # it ended
