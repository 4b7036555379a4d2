"""The OpenAI Responses API with the official client: plain, streamed, chained, stored, with function tools."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call
from pydantic_ai import Agent

from .conftest import Served, ServeFactory

LOOKUP: dict[str, Any] = {
    "type": "function",
    "name": "lookup_order",
    "description": "Look an order up in the client's database.",
    "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
}


def test_plain_response_with_instructions(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("Paris.")

    response = pais.openai.responses.create(model="m", input="Capital of France?", instructions="Be brief.")

    assert response.output_text == "Paris."
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.usage is not None
    assert response.usage.output_tokens == len("Paris.") // 4
    seen = scripted_model.calls[-1]
    assert seen.last_user_text == "Capital of France?"
    assert any("Be brief." in text for text in seen.text_of("system"))


def test_previous_response_id_continues_the_session_and_responses_are_stored(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted("Nice to meet you, Ada.")
    first = pais.openai.responses.create(model="m", input="My name is Ada.")
    scripted_model.handler = scripted("Your name is Ada.")

    second = pais.openai.responses.create(model="m", input="What is my name?", previous_response_id=first.id)

    assert second.output_text == "Your name is Ada."
    assert scripted_model.calls[-1].text_of("user") == ["My name is Ada.", "What is my name?"]
    assert (second.model_extra or {})["session_id"] == (first.model_extra or {})["session_id"]
    stored = pais.openai.responses.retrieve(first.id)
    assert (stored.id, stored.output_text) == (first.id, "Nice to meet you, Ada.")
    with pytest.raises(openai.NotFoundError):
        pais.openai.responses.retrieve("resp_unknown")
    with pytest.raises(openai.NotFoundError):
        pais.openai.responses.create(model="m", input="hi", previous_response_id="resp_unknown")


def test_streamed_response_events(pais: Served, scripted_model: ScriptedModelServer) -> None:
    answer = "The quick brown fox jumps over the lazy dog"
    scripted_model.handler = scripted(answer)

    events = list(pais.openai.responses.create(model="m", input="go", stream=True))

    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == answer
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == answer
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert pais.openai.responses.retrieve(completed.response.id).output_text == answer


def test_function_tool_runs_on_the_client_and_previous_response_id_resumes(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    paused = pais.openai.responses.create(model="m", input="Where is order 42?", tools=[LOOKUP])  # type: ignore[list-item]
    [call] = paused.output
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("lookup_order", {"id": "42"})

    resumed = pais.openai.responses.create(
        model="m",
        previous_response_id=paused.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "shipped Monday"}],
        tools=[LOOKUP],  # type: ignore[list-item]
    )

    assert resumed.output_text == "Order 42 ships on Monday."
    tool_messages = [m for m in scripted_model.calls[-1].messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["shipped Monday"]


def test_streamed_function_call(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"))

    events = list(pais.openai.responses.create(model="m", input="Where?", tools=[LOOKUP], stream=True))  # type: ignore[list-item]

    arguments = [event.delta for event in events if event.type == "response.function_call_arguments.delta"]
    assert json.loads("".join(arguments)) == {"id": "42"}
    done = [event.item for event in events if event.type == "response.output_item.done"]
    assert [(item.type, getattr(item, "name", None)) for item in done] == [("function_call", "lookup_order")]
    assert events[-1].type == "response.completed"


def test_json_schema_text_format(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted('{"name": "Paris", "population": 2100000}')
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name", "population"],
    }

    response = pais.openai.responses.create(
        model="m",
        input="Describe Paris.",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema}},  # type: ignore[arg-type]
    )

    assert json.loads(response.output_text) == {"name": "Paris", "population": 2100000}
    assert scripted_model.calls[-1].body["response_format"]["json_schema"]["name"] == "city"


def test_the_agents_own_tool_progress_streams_beside_the_output(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    agent = Agent(name="weather")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"sunny in {city}"

    served = serve_pais(agent, model_api_url=scripted_model.url, model_name="scripted")
    scripted_model.handler = scripted(tool_call("get_weather", city="Oslo"), "Sunny in Oslo.")

    events = list(served.openai.responses.create(model="m", input="Weather in Oslo?", stream=True))

    progress = [event.model_extra["progress"] for event in events if event.type == "pais.progress"]  # type: ignore[index]
    assert [(p["type"], p["tool"]) for p in progress] == [("tool_call", "get_weather"), ("tool_result", "get_weather")]
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == "Sunny in Oslo."
    assert events[-1].type == "response.completed"
