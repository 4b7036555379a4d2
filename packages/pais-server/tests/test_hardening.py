"""API-key auth, the concurrent-run limit, and graceful shutdown of a real server process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time

import httpx
import openai
import pytest
from a2a.types import AgentCard
from google.protobuf.json_format import ParseDict
from pais_testing.ports import free_port, wait_for_http
from pais_testing.process import pais_server_process
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted

from pais_memory import RedisMemory

from .conftest import ServeFactory


@pytest.fixture
def secured(serve_pais: ServeFactory):
    return serve_pais(agent_api_key="s3cret-key", debug_mock_responses=("hi",))


def test_chat_memory_and_models_need_the_key(secured) -> None:  # type: ignore[no-untyped-def]
    for method, path in [("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/memory/sessions")]:
        missing = secured.http.request(method, path, json={"messages": [{"role": "user", "content": "x"}]})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["type"] == "authentication_error"
        wrong = secured.http.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["message"] == "invalid API key"


@pytest.mark.parametrize("authorization", ["Bearer s3cret-key", "bearer s3cret-key", "BEARER  s3cret-key"])
def test_the_bearer_scheme_is_case_insensitive(secured, authorization: str) -> None:  # type: ignore[no-untyped-def]
    assert secured.http.get("/v1/models", headers={"Authorization": authorization}).status_code == 200


@pytest.mark.parametrize("authorization", ["Basic s3cret-key", "s3cret-key", "Bearer", "Bearers3cret-key"])
def test_other_schemes_and_malformed_headers_are_rejected(secured, authorization: str) -> None:  # type: ignore[no-untyped-def]
    response = secured.http.get("/v1/models", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid API key"


def test_the_right_key_works_with_the_openai_client(secured) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=f"{secured.url}/v1", api_key="s3cret-key", max_retries=0)
    assert client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{secured.url}/v1", api_key="bad", max_retries=0).models.list()


def test_probes_and_card_stay_open_and_card_advertises_bearer(secured) -> None:  # type: ignore[no-untyped-def]
    assert secured.http.get("/health").status_code == 200
    assert secured.http.get("/ready").status_code == 200
    card = secured.http.get("/.well-known/agent-card.json").json()
    assert card["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "httpAuthSecurityScheme": {"scheme": "bearer"}}
    }
    assert card["security"] == [{"bearer": []}]  # 0.3
    assert card["securityRequirements"] == [{"schemes": {"bearer": {"list": []}}}]  # 1.0
    parsed = ParseDict(card, AgentCard(), ignore_unknown_fields=True)  # how the a2a-sdk 1.x client reads it
    assert parsed.security_schemes["bearer"].http_auth_security_scheme.scheme == "bearer"
    assert list(parsed.security_requirements[0].schemes) == ["bearer"]


def test_the_openapi_document_declares_the_bearer_scheme_where_the_key_is_needed(secured) -> None:  # type: ignore[no-untyped-def]
    document = secured.http.get("/openapi.json", headers={"Authorization": "Bearer s3cret-key"}).json()

    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert document["paths"]["/v1/chat/completions"]["post"]["security"] == [{"bearer": []}]
    assert document["paths"]["/memory/events"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/health"]["get"]
    assert "security" not in document["paths"]["/ready"]["get"]


def test_runs_over_the_limit_get_503_with_retry_after(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(Reply(text="slow", delay=1.0))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", max_concurrent_runs=1)
    body = {"messages": [{"role": "user", "content": "x"}]}
    statuses: list[int] = []
    first = threading.Thread(
        target=lambda: statuses.append(served.http.post("/v1/chat/completions", json=body).status_code)
    )
    first.start()
    while not scripted_model.calls:
        time.sleep(0.01)

    busy = served.http.post("/v1/chat/completions", json={**body, "session_id": "extra"})

    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "server_busy"
    first.join()
    assert statuses == [200]
    assert served.http.get("/memory/events", params={"session_id": "extra"}).status_code == 404
    assert served.http.post("/v1/chat/completions", json=body).status_code == 200


def test_sigterm_mid_stream_lets_the_stream_finish(scripted_model: ScriptedModelServer) -> None:
    words = [f"w{i}" for i in range(10)]
    scripted_model.handler = scripted(Reply(text=" ".join(words), chunk_delay=0.2))
    port = free_port()
    env = {"MODEL_API_URL": scripted_model.url, "MODEL_NAME": "scripted", "SHUTDOWN_GRACE_SECONDS": "20"}
    with pais_server_process(env, port=port) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/ready")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        stream = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "go"}], stream=True, extra_headers={"X-Session-ID": "s"}
        )
        pieces: list[str] = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if not pieces:
                    proc.signal(signal.SIGTERM)
                    time.sleep(0.2)
                    # no longer ready: new connections are refused or told 503
                    with pytest.raises(httpx.HTTPError):
                        httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).raise_for_status()
                pieces.append(chunk.choices[0].delta.content)
        assert "".join(pieces) == " ".join(words)
        assert proc.proc is not None
        proc.proc.wait(20)
    assert "Application shutdown complete" in proc.output()


@pytest.mark.redis
def test_a_stream_cut_off_by_the_end_of_the_grace_period_leaves_its_turn_in_memory(
    scripted_model: ScriptedModelServer,
) -> None:
    scripted_model.handler = scripted(Reply(text=" ".join(f"w{i}" for i in range(20)), chunk_delay=0.3))
    port = free_port()
    with RedisServer() as redis:
        env = {
            "MODEL_API_URL": scripted_model.url,
            "MODEL_NAME": "scripted",
            "MEMORY_TYPE": "redis",
            "MEMORY_REDIS_URL": redis.url,
            "SHUTDOWN_GRACE_SECONDS": "1",
        }
        with pais_server_process(env, port=port) as proc:
            wait_for_http(f"http://127.0.0.1:{port}/ready")
            body = {"messages": [{"role": "user", "content": "a long answer"}], "stream": True}
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream(
                    "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers={"X-Session-ID": "cut"}
                ) as response,
            ):
                for line in response.iter_lines():
                    if '"content":"w0' in line:
                        proc.signal(signal.SIGTERM)
            assert proc.proc is not None
            proc.proc.wait(20)

        async def stored() -> list[str]:
            memory = RedisMemory.from_url(redis.url, key_prefix="pais:test-agent")
            try:
                return [event.event_type for event in (await memory.get_events("cut")).items]
            finally:
                await memory.close()

        assert asyncio.run(stored()) == ["user_message", "error"], proc.output()


def test_connections_that_send_no_whole_request_in_time_are_closed() -> None:
    port = free_port()
    env = {"DEBUG_MOCK_RESPONSES": '["hi"]', "HTTP_READ_TIMEOUT_SECONDS": "1", "HTTP_KEEP_ALIVE_SECONDS": "1"}
    with pais_server_process(env, port=port):
        wait_for_http(f"http://127.0.0.1:{port}/ready")

        def closed_by_server(*sent: bytes) -> bool:
            """Send `sent` slowly, then whether the server hung up within 10 s (never sending a response)."""
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                for piece in sent:
                    sock.sendall(piece)
                    time.sleep(0.3)
                try:
                    return sock.recv(1024) == b""
                except ConnectionResetError:
                    return True

        body = b'{"messages": [{"role": "user", "content": "hi"}]}'
        assert closed_by_server()  # silent
        assert closed_by_server(b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"X-Slow: 1\r\n")  # headers never end
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        assert closed_by_server(head + f"Content-Length: {len(body)}\r\n\r\n".encode(), body[:5], body[5:10])
        # a whole request is answered, and the idle connection is closed after the keep-alive time
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while chunk := sock.recv(1024):  # until the server closes it (a timeout here fails the test)
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")
            assert received.endswith(b'{"status":"ok"}')
