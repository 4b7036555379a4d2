"""Bad input and failing dependencies: OpenAI error bodies, real statuses, nothing lost."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from pais_testing.ports import free_port
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted, tool_call
from pais_testing.threaded_server import ThreadedServer
from starlette.types import Receive, Scope, Send

from pais_core import Settings
from pais_server import create_app
from pais_server.http._errors import UnexpectedErrors

from .conftest import Served, ServeFactory


def _chat(served: Served, session: str | None = None, **body: Any) -> Any:
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    headers = {"X-Session-ID": session} if session else {}
    return served.http.post("/v1/chat/completions", json=body, headers=headers)


def _assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": []}', "messages"),
        (b'{"messages": [{"role": "assistant", "content": "hi"}]}', "last message must have role 'user'"),
        (b'{"messages": [{"role": "user", "content": 42}]}', "messages.0.content"),
        (b'{"messages": [{"role": "wizard", "content": "hi"}]}', "role"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "stream": "often"}', "stream"),
        (b'{"messages": [{"role": "user", "content": "   "}]}', "no text"),
        # unpaired UTF-16 surrogates, escaped or raw, anywhere: nothing stored could be serialised later
        (b'{"messages": [{"role": "user", "content": "a\\ud800"}]}', "no unpaired UTF-16 surrogates"),
        (b'{"messages": [{"role": "system", "content": "\\udc00"}, {"role": "user", "content": "hi"}]}', "JSON"),
        (b'{"model": "m\\ud83d", "messages": [{"role": "user", "content": "hi"}]}', "not valid JSON"),
        (b'{"messages": [{"role": "user", "content": "\xed\xa0\x80"}]}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        # numbers and types are not guessed
        (b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', "not valid JSON"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "temperature": 1e999}', "temperature"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "temperature": 7}', "temperature"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "stream"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "seed": false}', "seed"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1.5}', "max_tokens"),
        # a tool call must be answered before the conversation goes on
        (
            b'{"messages": [{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",'
            b' "function": {"name": "f", "arguments": "{}"}}]}, {"role": "user", "content": "hi"}]}',
            "no answer to 'c1'",
        ),
    ],
)
def test_bad_requests_get_400_and_change_nothing(
    pais: Served, scripted_model: ScriptedModelServer, body: bytes, expected: str
) -> None:
    ok = _chat(pais, session="keep")
    assert ok.status_code == 200
    before = pais.events("keep")

    response = pais.http.post(
        "/v1/chat/completions", content=body, headers={"Content-Type": "application/json", "X-Session-ID": "keep"}
    )

    error = _assert_error(response, 400)
    assert expected in error["message"]
    assert error["type"] == "invalid_request_error"
    assert pais.events("keep") == before
    assert len(scripted_model.calls) == 1
    assert _chat(pais).status_code == 200


def test_invalid_session_id_is_rejected(pais: Served) -> None:
    _assert_error(_chat(pais, session_id="has spaces in it"), 400)


def test_unknown_session_events_is_404(pais: Served) -> None:
    _assert_error(pais.http.get("/memory/events", params={"session_id": "nope"}), 404, "not_found")
    _assert_error(pais.http.get("/memory/events"), 400)
    _assert_error(pais.http.get("/memory/sessions", params={"limit": 0}), 400)
    _assert_error(pais.http.get("/memory/sessions", params={"cursor": "garbage"}), 400)


def test_unknown_route_and_method_use_openai_body(pais: Served) -> None:
    _assert_error(pais.http.get("/v1/nothing-here"), 404)
    _assert_error(pais.http.get("/v1/chat/completions"), 405)


def test_oversized_body_is_413_and_nothing_is_stored(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", max_request_bytes=4096)
    assert _chat(served, session="big").status_code == 200
    before = served.events("big")
    huge = "x" * 10_000

    response = _chat(served, session="big", messages=[{"role": "user", "content": huge}])
    assert "MAX_REQUEST_BYTES=4096" in _assert_error(response, 413, "payload_too_large")["message"]

    def chunked():  # no Content-Length: the limit is enforced while reading
        yield b'{"messages": [{"role": "user", "content": "'
        yield huge.encode()
        yield b'"}]}'

    response = served.http.post(
        "/v1/chat/completions", content=chunked(), headers={"Content-Type": "application/json", "X-Session-ID": "big"}
    )
    assert "MAX_REQUEST_BYTES=4096" in _assert_error(response, 413, "payload_too_large")["message"]
    assert served.events("big") == before
    assert _chat(served).status_code == 200

    a2a = served.http.post("/", content=chunked(), headers={"Content-Type": "application/json"})
    _assert_error(a2a, 413, "payload_too_large")  # the limit holds for every route, A2A included


def test_too_many_messages_is_400(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", max_request_messages=3)
    messages = [{"role": "user", "content": f"m{i}"} for i in range(4)]
    assert "MAX_REQUEST_MESSAGES" in _assert_error(_chat(served, messages=messages), 400)["message"]


def test_step_limit_is_a_clear_error_recorded_in_memory(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    from pydantic_ai import Agent

    agent = Agent(name="looper")

    @agent.tool_plain
    def again() -> str:
        """Keep going."""
        return "again"

    scripted_model.handler = scripted(tool_call("again"))
    served = serve_pais(agent, model_api_url=scripted_model.url, model_name="scripted", agentic_loop_max_steps=3)

    error = _assert_error(_chat(served, session="loop"), 500, "max_steps_exceeded")

    assert "AGENTIC_LOOP_MAX_STEPS=3" in error["message"]
    assert len(scripted_model.calls) == 3
    events = served.events("loop")
    assert [e["event_type"] for e in events] == ["user_message", "error"]
    assert events[1]["metadata"]["code"] == "max_steps_exceeded"


@pytest.mark.parametrize("stream", [False, True])
def test_model_api_http_failure_is_502(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, stream: bool
) -> None:
    scripted_model.handler = scripted(Reply(status=500))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted")
    _assert_error(_chat(served, session="s502", stream=stream), 502, "model_api_failed")
    assert [e["event_type"] for e in served.events("s502")] == ["user_message", "error"]


def test_model_api_timeout_is_504(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(Reply(text="late", delay=3))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", model_timeout_seconds=0.5)
    _assert_error(_chat(served, session="slow"), 504, "timeout")
    assert [e["event_type"] for e in served.events("slow")] == ["user_message", "error"]
    assert len(scripted_model.calls) == 1  # not retried: MODEL_TIMEOUT_SECONDS bounds the whole wait


def test_model_api_error_text_reaches_the_log_only(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    scripted_model.handler = scripted(Reply(status=401))  # its body says "scripted failure 401"
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted")

    plain = _assert_error(_chat(served, session="leak"), 502, "model_api_failed")
    streamed = served.http.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    task = served.http.post(
        "/",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {"message": {"role": "user", "messageId": "m1", "parts": [{"kind": "text", "text": "hi"}]}},
        },
    ).json()["result"]

    assert plain["message"] == "the model API returned HTTP 401"
    assert streamed.status_code == 502
    assert task["status"]["state"] == "failed"
    for seen in (plain["message"], streamed.text, json.dumps(task), json.dumps(served.events("leak"))):
        assert "scripted failure" not in seen
    assert "HTTP 401" in served.events("leak")[-1]["content"]
    assert "scripted failure 401" in caplog.text


def _exchange(connection: http.client.HTTPConnection, method: str, path: str) -> tuple[int, Any]:
    """One request on `connection`, asserting it was answered on the same socket (kept alive)."""
    connection.request(method, path, body=b"{}" if method == "POST" else None)
    socket = connection.sock
    response = connection.getresponse()
    body = json.loads(response.read())
    assert connection.sock is socket
    return response.status, body


def test_an_unexpected_error_is_a_500_in_the_openai_shape_and_the_connection_stays_open() -> None:
    app = create_app(Settings(agent_name="crashy", debug_mock_responses=("hi",)))

    @app.get("/v1/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    with ThreadedServer(app) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(3):
            status, body = _exchange(connection, "GET", "/v1/crash")
            assert status == 500
            assert body["error"] == {
                "message": "internal server error",
                "type": "server_error",
                "code": "internal_error",
            }
            assert _exchange(connection, "GET", "/health") == (200, {"status": "ok"})
        connection.close()


def test_an_unexpected_error_on_the_a2a_endpoint_is_a_json_rpc_error() -> None:
    async def crash(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    with ThreadedServer(UnexpectedErrors(crash)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(2):
            status, body = _exchange(connection, "POST", "/")
            assert status == 500
            assert body == {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": "internal error"}}
        connection.close()


def test_request_timeout_is_504(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(Reply(text="late", delay=3))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", request_timeout_seconds=0.5)
    error = _assert_error(_chat(served), 504, "timeout")
    assert "REQUEST_TIMEOUT_SECONDS" in error["message"]


def test_model_api_down_is_503_and_ready_names_it_without_credentials(serve_pais: ServeFactory) -> None:
    served = serve_pais(model_api_url=f"http://admin:hunter2@127.0.0.1:{free_port()}", model_name="gone")

    down = _chat(served, session="down")
    _assert_error(down, 503, "dependency_unavailable")
    ready = served.http.get("/ready")

    assert down.headers["retry-after"] == "1"
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["model_api"]
    assert "unreachable" in ready.json()["checks"]["model_api"]["detail"]
    assert "admin:***@127.0.0.1" in ready.text
    assert "hunter2" not in ready.text
    assert served.http.get("/health").status_code == 200
    assert [e["event_type"] for e in served.events("down")] == ["user_message", "error"]


def test_busy_session_waits_then_409(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    import threading

    scripted_model.handler = scripted(Reply(text="slow answer", delay=1.5))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", session_lock_timeout_seconds=0.3)
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(_chat(served, session="busy").status_code))
    first.start()
    while not scripted_model.calls:
        pass
    _assert_error(_chat(served, session="busy"), 409, "session_busy")
    first.join()
    assert results == [200]
    assert [e["event_type"] for e in served.events("busy")] == ["user_message", "agent_response"]
