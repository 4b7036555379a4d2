"""Bad input and failing dependencies: OpenAI error bodies, real statuses, nothing lost."""

from __future__ import annotations

from typing import Any

import pytest
from pais_testing.ports import free_port
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted, tool_call

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
    ],
)
def test_bad_requests_get_400_and_change_nothing(pais: Served, body: bytes, expected: str) -> None:
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


def test_request_timeout_is_504(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(Reply(text="late", delay=3))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", request_timeout_seconds=0.5)
    error = _assert_error(_chat(served), 504, "timeout")
    assert "REQUEST_TIMEOUT_SECONDS" in error["message"]


def test_model_api_down_is_503_and_ready_names_it(serve_pais: ServeFactory) -> None:
    served = serve_pais(model_api_url=f"http://127.0.0.1:{free_port()}", model_name="gone")

    _assert_error(_chat(served, session="down"), 503, "dependency_unavailable")
    ready = served.http.get("/ready")

    assert ready.status_code == 503
    assert ready.json()["failed"] == ["model_api"]
    assert "unreachable" in ready.json()["checks"]["model_api"]["detail"]
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
