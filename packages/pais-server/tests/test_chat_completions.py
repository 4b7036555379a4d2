"""The official OpenAI client against PAIS, with the model reached over real HTTP."""

from __future__ import annotations

import json
import time

from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted

from .conftest import Served


def test_non_streaming_completion(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("Paris is the capital of France.")

    raw = pais.openai.chat.completions.with_raw_response.create(
        model="anything", messages=[{"role": "user", "content": "Capital of France?"}]
    )
    completion = raw.parse()

    assert completion.choices[0].message.content == "Paris is the capital of France."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "anything"
    session_id = raw.headers["x-session-id"]
    assert (completion.model_extra or {})["session_id"] == session_id
    # usage is the model server's real count for this call
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len("Paris is the capital of France.") // 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert scripted_model.calls[-1].last_user_text == "Capital of France?"


def test_model_is_optional_and_defaults_to_agent_name(pais: Served) -> None:
    response = pais.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["model"] == "test-agent"


def test_streaming_concatenation_equals_answer(pais: Served, scripted_model: ScriptedModelServer) -> None:
    answer = "The quick brown fox jumps over the lazy dog"
    scripted_model.handler = scripted(answer)

    stream = pais.openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "go"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == answer
    assert "progress" not in content
    assert "{" not in content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_second_turn_with_session_header_sees_first(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("Nice to meet you, Ada.")
    first = pais.openai.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "My name is Ada."}]
    )
    session_id = first.headers["x-session-id"]

    scripted_model.handler = scripted("Your name is Ada.")
    second = pais.openai.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_headers={"X-Session-ID": session_id},
    )

    assert second.choices[0].message.content == "Your name is Ada."
    seen = scripted_model.calls[-1]
    assert seen.text_of("user") == ["My name is Ada.", "What is my name?"]
    assert seen.text_of("assistant") == ["Nice to meet you, Ada."]
    kinds = [e["event_type"] for e in pais.events(session_id)]
    assert kinds == ["user_message", "agent_response", "user_message", "agent_response"]


def test_session_id_in_body_is_honoured(pais: Served) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "session_id": "my-session-1"}
    response = pais.http.post("/v1/chat/completions", json=body)
    assert response.headers["x-session-id"] == "my-session-1"
    assert response.json()["session_id"] == "my-session-1"
    assert [e["event_type"] for e in pais.events("my-session-1")] == ["user_message", "agent_response"]


def test_stateless_multi_turn_uses_request_messages(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("You said your favourite colour is green.")
    completion = pais.openai.chat.completions.create(
        model="m",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "My favourite colour is green."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "What is my favourite colour?"},
        ],
    )

    assert completion.choices[0].message.content == "You said your favourite colour is green."
    seen = scripted_model.calls[-1]
    assert seen.text_of("user") == ["My favourite colour is green.", "What is my favourite colour?"]
    assert seen.text_of("assistant") == ["Noted."]
    assert any("Answer briefly." in text for text in seen.text_of("system"))


def test_first_token_reaches_client_before_model_finishes(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(Reply(text="one two three four five six", chunk_delay=0.25))

    stream = pais.openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "count"}], stream=True
    )
    first_content_at = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first_content_at = first_content_at or time.monotonic()

    finished_at = scripted_model.calls[-1].finished_at
    assert first_content_at is not None
    assert finished_at is not None
    # the model needs ~1.25 s after its first token; the client saw that token long before the end
    assert first_content_at < finished_at - 0.5
    assert scripted_model.calls[-1].body["stream"] is True


def test_models_lists_the_agent(pais: Served) -> None:
    models = pais.openai.models.list()
    assert [m.id for m in models.data] == ["test-agent"]


def test_stream_wire_format_and_headers(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("two words")
    body = {"messages": [{"role": "user", "content": "go"}], "stream": True}
    response = pais.http.post("/v1/chat/completions", json=body, headers={"X-Session-ID": "wire-1"})

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-session-id"] == "wire-1"
    assert response.headers["x-completion-id"].startswith("chatcmpl-")
    events = response.text.split("\n\n")
    # one `data:` line and an `id:` line (1, 2, ... to resume from) per event, blank line after each
    assert events[-1] == ""
    assert [event.split("\n")[1] for event in events[:-1]] == [f"id: {n}" for n in range(1, len(events))]
    assert events[-2].split("\n")[0] == "data: [DONE]"
    data = [event.split("\n")[0] for event in events[:-2]]
    assert all(line.startswith("data: {") for line in data)
    chunks = [json.loads(line.removeprefix("data: ")) for line in data]
    assert chunks[0]["choices"][0] == {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    assert chunks[0]["session_id"] == "wire-1"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_stream_is_resumed_after_the_last_event_id(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("one two three")
    body = {"messages": [{"role": "user", "content": "go"}], "stream": True}
    streamed = pais.http.post("/v1/chat/completions", json=body)
    events = [event.split("\n") for event in streamed.text.split("\n\n")[:-1]]
    path = f"/v1/chat/completions/{streamed.headers['x-completion-id']}/events"

    assert pais.http.get(path).text == streamed.text  # without Last-Event-ID: the whole stream again
    resumed = pais.http.get(path, headers={"Last-Event-ID": "2"})
    assert resumed.headers["content-type"].startswith("text/event-stream")
    assert [event.split("\n") for event in resumed.text.split("\n\n")[:-1]] == events[2:]
    assert pais.http.get(path, headers={"Last-Event-ID": str(len(events))}).text == ""
    for bad in (b"x", "²".encode(), b"-1", b"9" * 40):
        answer = pais.http.get(path, headers={b"Last-Event-ID": bad})
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
    assert pais.http.get("/v1/chat/completions/chatcmpl-nothing/events").status_code == 404


def test_stream_error_event_is_openai_shaped(serve_pais, scripted_model: ScriptedModelServer) -> None:  # type: ignore[no-untyped-def]
    scripted_model.handler = scripted(Reply(status=500))
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted")
    response = served.http.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    # the failure happened before the first token: a real status, not a 200 stream
    assert response.status_code == 502
    assert json.loads(response.text)["error"]["code"] == "model_api_failed"
