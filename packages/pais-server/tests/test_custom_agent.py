"""Wrapping a user's own Pydantic AI agent: its tools and instructions survive, PAIS supplies the model."""

from __future__ import annotations

import json

from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call
from pydantic_ai import Agent

from .conftest import ServeFactory


def _weather_agent() -> Agent[None, str]:
    agent = Agent(instructions="You are WeatherBot. Always mention the city.", name="weather")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"sunny in {city}, 21C"

    return agent


def test_custom_agent_tool_and_instructions_reach_the_model(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(tool_call("get_weather", city="Oslo"), "It is sunny in Oslo.")
    served = serve_pais(
        _weather_agent(),
        model_api_url=scripted_model.url,
        model_name="scripted",
        agent_instructions="Reply in English.",
    )

    raw = served.openai.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "Weather in Oslo?"}]
    )

    assert raw.parse().choices[0].message.content == "It is sunny in Oslo."
    first, second = scripted_model.calls
    system = "\n".join(first.text_of("system"))
    assert "You are WeatherBot. Always mention the city." in system
    assert "Reply in English." in system  # AGENT_INSTRUCTIONS is appended for a wrapped agent
    assert [t["function"]["name"] for t in first.body["tools"]] == ["get_weather"]
    tool_results = [m for m in second.messages if m["role"] == "tool"]
    assert tool_results
    assert "sunny in Oslo, 21C" in tool_results[0]["content"]
    events = served.events(raw.headers["x-session-id"])
    assert [e["event_type"] for e in events] == ["user_message", "tool_call", "tool_result", "agent_response"]
    assert events[1]["content"]["arguments"] == {"city": "Oslo"}
    assert events[2]["content"]["result"] == "sunny in Oslo, 21C"


def test_agent_with_its_own_model_keeps_it(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def own(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("from the agent's own model")])

    served = serve_pais(Agent(FunctionModel(own)), model_api_url=scripted_model.url, model_name="scripted")
    completion = served.openai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "from the agent's own model"
    assert scripted_model.calls == []


def test_streamed_tool_progress_stays_out_of_content(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(tool_call("get_weather", city="Rome"), "Rome is sunny.")
    served = serve_pais(_weather_agent(), model_api_url=scripted_model.url, model_name="scripted")

    chunks = list(
        served.openai.chat.completions.create(model="m", messages=[{"role": "user", "content": "Rome?"}], stream=True)
    )

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "Rome is sunny."
    progress = [extra["progress"] for c in chunks if (extra := c.model_extra or {}).get("progress")]
    assert [(p["type"], p["tool"], p["step"], p["max_steps"]) for p in progress] == [
        ("tool_call", "get_weather", 1, 5),
        ("tool_result", "get_weather", 1, 5),
    ]
    assert progress[1]["success"] is True
    assert "get_weather" not in content
    assert json.dumps(progress[0]) not in content


def test_the_operators_system_prompt_is_appended(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("ok")
    env_agent = serve_pais(
        model_api_url=scripted_model.url, model_name="scripted", agent_system_prompt="Answer in French."
    )
    env_agent.openai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    wrapped = serve_pais(
        _weather_agent(), model_api_url=scripted_model.url, model_name="scripted", agent_system_prompt="Be terse."
    )
    wrapped.openai.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    first, second = ("\n".join(call.text_of("system")) for call in scripted_model.calls)
    assert first.index("You are a helpful assistant.") < first.index("Answer in French.")
    assert second.index("You are WeatherBot.") < second.index("Be terse.")
