"""Client tools: the model calls a tool of the request, the run pauses, the client's results resume it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted, tool_call
from pydantic_ai import Agent

from .conftest import Served, ServeFactory

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Look an order up in the client's database.",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    },
}
CANCEL = {"type": "function", "function": {"name": "cancel_order", "parameters": {"type": "object"}}}
ASK: list[dict[str, Any]] = [{"role": "user", "content": "Where is order 42?"}]


def _answer(call: Any, result: str) -> list[dict[str, Any]]:
    """The assistant's tool call and the client's tool message, as a client appends them."""
    assistant = {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]}
    return [assistant, {"role": "tool", "tool_call_id": call.id, "content": result}]


def test_a_client_tool_call_pauses_and_the_tool_message_resumes_in_the_session(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    raw = pais.openai.chat.completions.with_raw_response.create(model="m", messages=ASK, tools=[LOOKUP])  # type: ignore[arg-type, list-item]
    paused = raw.parse().choices[0]
    session_id = raw.headers["x-session-id"]

    assert paused.finish_reason == "tool_calls"
    assert paused.message.content is None
    [call] = paused.message.tool_calls or []
    assert call.function.name == "lookup_order"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"id": "42"}  # type: ignore[union-attr]
    assert [t["function"]["name"] for t in scripted_model.calls[0].body["tools"]] == ["lookup_order"]
    # the turn is written once, when it completes: no session yet
    assert pais.http.get("/memory/events", params={"session_id": session_id}).status_code == 404

    resumed = pais.openai.chat.completions.create(
        model="m",
        messages=[*ASK, *_answer(call, "shipped Monday")],  # type: ignore[list-item]
        tools=[LOOKUP],  # type: ignore[list-item]
        extra_headers={"X-Session-ID": session_id},
    )

    assert resumed.choices[0].message.content == "Order 42 ships on Monday."
    assert resumed.choices[0].finish_reason == "stop"
    tool_messages = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [(call.id, "shipped Monday")]
    events = pais.events(session_id)
    assert [e["event_type"] for e in events] == ["user_message", "tool_call", "tool_result", "agent_response"]
    assert events[0]["content"] == "Where is order 42?"
    assert events[2]["content"]["result"] == "shipped Monday"


def test_a_paused_run_resumes_once(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")
    raw = pais.openai.chat.completions.with_raw_response.create(model="m", messages=ASK, tools=[LOOKUP])  # type: ignore[arg-type, list-item]
    [call] = raw.parse().choices[0].message.tool_calls or []
    resume: dict[str, Any] = {
        "model": "m",
        "messages": [*ASK, *_answer(call, "shipped Monday")],
        "tools": [LOOKUP],
        "extra_headers": {"X-Session-ID": raw.headers["x-session-id"]},
    }

    pais.openai.chat.completions.create(**resume)
    with pytest.raises(openai.BadRequestError) as caught:
        pais.openai.chat.completions.create(**resume)

    assert "no paused run" in caught.value.message
    assert len(scripted_model.calls) == 2
    events = pais.events(raw.headers["x-session-id"])  # the refused resume recorded nothing
    assert [e["event_type"] for e in events] == ["user_message", "tool_call", "tool_result", "agent_response"]


def test_a_client_resending_the_conversation_resumes_without_a_session(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")
    first = pais.openai.chat.completions.create(model="m", messages=ASK, tools=[LOOKUP])  # type: ignore[arg-type, list-item]
    [call] = first.choices[0].message.tool_calls or []

    resumed = pais.openai.chat.completions.create(
        model="m",
        messages=[*ASK, *_answer(call, "shipped Monday")],  # type: ignore[list-item]
        tools=[LOOKUP],  # type: ignore[list-item]
    )

    assert resumed.choices[0].message.content == "Order 42 ships on Monday."
    seen = scripted_model.calls[-1].messages
    assert [m["role"] for m in seen if m["role"] != "system"] == ["user", "assistant", "tool"]


def _agent_with_its_own_tool(ran: list[str]) -> Agent[None, str]:
    agent = Agent(name="weather")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        ran.append(city)
        return f"sunny in {city}"

    return agent


def test_the_agents_own_calls_in_the_same_step_run_on_the_server(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    ran: list[str] = []
    served = serve_pais(_agent_with_its_own_tool(ran), model_api_url=scripted_model.url, model_name="scripted")
    both = Reply(tool_calls=[("get_weather", {"city": "Oslo"}), ("lookup_order", {"id": "42"})])
    scripted_model.handler = scripted(both, "Sunny, and order 42 ships Monday.")

    raw = served.openai.chat.completions.with_raw_response.create(model="m", messages=ASK, tools=[LOOKUP])  # type: ignore[arg-type, list-item]
    [call] = raw.parse().choices[0].message.tool_calls or []
    assert call.function.name == "lookup_order"  # type: ignore[union-attr]
    assert ran == ["Oslo"]

    resumed = served.openai.chat.completions.create(
        model="m",
        messages=[*ASK, *_answer(call, "shipped Monday")],  # type: ignore[list-item]
        extra_headers={"X-Session-ID": raw.headers["x-session-id"]},
    )

    assert resumed.choices[0].message.content == "Sunny, and order 42 ships Monday."
    assert ran == ["Oslo"]  # not run again on resume
    results = {m["content"] for m in scripted_model.calls[-1].messages if m["role"] == "tool"}
    assert results == {"sunny in Oslo", "shipped Monday"}


def test_a_client_tool_clashing_with_the_agents_is_refused(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    served = serve_pais(_agent_with_its_own_tool([]), model_api_url=scripted_model.url, model_name="scripted")
    clash = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

    with pytest.raises(openai.BadRequestError) as caught:
        served.openai.chat.completions.create(model="m", messages=ASK, tools=[clash])  # type: ignore[arg-type, list-item]

    assert caught.value.param == "tools"
    assert "get_weather" in caught.value.message
    assert scripted_model.calls == []


def test_streamed_client_tool_calls(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    with pais.openai.chat.completions.with_streaming_response.create(
        model="m",
        messages=ASK,  # type: ignore[arg-type]
        tools=[LOOKUP],  # type: ignore[list-item]
        stream=True,
    ) as response:
        session_id = response.headers["x-session-id"]
        chunks = list(response.parse())

    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [(c.index, c.type, c.function.name) for c in calls] == [(0, "function", "lookup_order")]
    assert json.loads(calls[0].function.arguments or "") == {"id": "42"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ""

    assistant = {
        "role": "assistant",
        "tool_calls": [{"id": calls[0].id, "type": "function", "function": calls[0].function.model_dump()}],
    }
    resumed = pais.openai.chat.completions.create(
        model="m",
        messages=[*ASK, assistant, {"role": "tool", "tool_call_id": calls[0].id, "content": "Monday"}],  # type: ignore[list-item]
        stream=True,
        extra_headers={"X-Session-ID": session_id},
    )
    assert "".join(c.choices[0].delta.content or "" for c in resumed if c.choices) == "Order 42 ships on Monday."


@pytest.mark.parametrize(
    ("tool_choice", "offered", "sent"),
    [
        ("none", None, None),
        ("auto", ["lookup_order", "cancel_order"], "auto"),
        ("required", ["lookup_order", "cancel_order"], "required"),
        (
            {"type": "function", "function": {"name": "lookup_order"}},
            ["lookup_order", "cancel_order"],
            {"type": "function", "function": {"name": "lookup_order"}},
        ),
    ],
)
def test_tool_choice_applies_to_client_tools(
    pais: Served, scripted_model: ScriptedModelServer, tool_choice: Any, offered: list[str] | None, sent: Any
) -> None:
    scripted_model.handler = scripted("No tools needed.")

    completion = pais.openai.chat.completions.create(
        model="m",
        messages=ASK,  # type: ignore[arg-type]
        tools=[LOOKUP, CANCEL],  # type: ignore[list-item]
        tool_choice=tool_choice,
    )

    assert completion.choices[0].message.content == "No tools needed."
    body = scripted_model.calls[0].body
    assert ([t["function"]["name"] for t in body["tools"]] if "tools" in body else None) == offered
    assert body.get("tool_choice") == sent


def test_tool_choice_naming_an_unknown_tool_is_refused(pais: Served) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            tools=[LOOKUP],  # type: ignore[list-item]
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    assert caught.value.param == "tool_choice"


def test_required_tool_choice_forces_the_first_model_request_only(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    ran: list[str] = []
    served = serve_pais(_agent_with_its_own_tool(ran), model_api_url=scripted_model.url, model_name="scripted")
    scripted_model.handler = scripted(tool_call("get_weather", city="Oslo"), "Sunny in Oslo.")

    completion = served.openai.chat.completions.create(
        model="m",
        messages=ASK,  # type: ignore[arg-type]
        tools=[LOOKUP],  # type: ignore[list-item]
        tool_choice="required",
    )

    assert completion.choices[0].message.content == "Sunny in Oslo."
    assert ran == ["Oslo"]
    assert [call.body.get("tool_choice") for call in scripted_model.calls] == ["required", "auto"]


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.mark.redis
def test_a_run_paused_on_one_replica_resumes_once_across_replicas(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, redis: RedisServer
) -> None:
    first, second = (
        serve_pais(
            model_api_url=scripted_model.url,
            model_name="scripted",
            memory_type="redis",
            memory_redis_url=redis.url,
            session_lock_timeout_seconds=0.5,
        )
        for _ in range(2)
    )
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")
    raw = first.openai.chat.completions.with_raw_response.create(model="m", messages=ASK, tools=[LOOKUP])  # type: ignore[arg-type, list-item]
    [call] = raw.parse().choices[0].message.tool_calls or []
    session_id = raw.headers["x-session-id"]
    body = {"messages": [*ASK, *_answer(call, "shipped Monday")], "tools": [LOOKUP]}

    def resume(served: Served) -> int:
        response = served.http.post("/v1/chat/completions", json=body, headers={"X-Session-ID": session_id})
        return response.status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(resume, [first, second]))

    assert statuses[0] == 200
    assert statuses[1] in (400, 409)  # the run was resumed by the other replica (or it still holds the session)
    assert len(scripted_model.calls) == 2  # the pause, and one resume
    events = second.events(session_id)
    assert [e["event_type"] for e in events] == ["user_message", "tool_call", "tool_result", "agent_response"]


def test_client_tools_with_structured_output(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), '{"order": "42", "ships": "Monday"}')
    schema = {
        "type": "object",
        "properties": {"order": {"type": "string"}, "ships": {"type": "string"}},
        "required": ["order", "ships"],
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "shipping", "schema": schema}}
    first = pais.openai.chat.completions.create(
        model="m",
        messages=ASK,  # type: ignore[arg-type]
        tools=[LOOKUP],  # type: ignore[list-item]
        response_format=response_format,  # type: ignore[arg-type]
    )
    [call] = first.choices[0].message.tool_calls or []

    resumed = pais.openai.chat.completions.create(
        model="m",
        messages=[*ASK, *_answer(call, "shipped Monday")],  # type: ignore[list-item]
        tools=[LOOKUP],  # type: ignore[list-item]
        response_format=response_format,  # type: ignore[arg-type]
    )

    assert first.choices[0].finish_reason == "tool_calls"
    assert json.loads(resumed.choices[0].message.content or "") == {"order": "42", "ships": "Monday"}
    assert scripted_model.calls[-1].body["response_format"]["json_schema"]["name"] == "shipping"


def test_without_memory_a_paused_run_still_resumes_in_its_session(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", memory_type="null")
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")
    raw = served.openai.chat.completions.with_raw_response.create(model="m", messages=ASK, tools=[LOOKUP])  # type: ignore[arg-type, list-item]
    [call] = raw.parse().choices[0].message.tool_calls or []

    resumed = served.openai.chat.completions.create(
        model="m",
        # only the tool message: the paused run holds the rest
        messages=[_answer(call, "shipped Monday")[1]],  # type: ignore[list-item]
        extra_headers={"X-Session-ID": raw.headers["x-session-id"]},
    )

    assert resumed.choices[0].message.content == "Order 42 ships on Monday."
    assert scripted_model.calls[-1].text_of("user") == ["Where is order 42?"]
