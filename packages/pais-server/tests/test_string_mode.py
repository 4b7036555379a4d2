"""StringModeModel through a Pydantic AI agent against a scripted OpenAI-compatible model server on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from pais_testing.refusing_model import RefusingModelServer
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from pais_server.tools._string_mode import ConstrainedOutput, StringModeModel

CALL_PARIS = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'


ModelFactory = Callable[..., Awaitable[StringModeModel]]


@pytest.fixture
async def make_model() -> AsyncIterator[ModelFactory]:
    """Builds string-mode models over OpenAIChatModel; their HTTP clients are closed after the test."""
    async with AsyncExitStack() as stack:

        async def make(url: str, *, constrained: ConstrainedOutput = "auto") -> StringModeModel:
            chat = OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=url, api_key="test"))
            return await stack.enter_async_context(StringModeModel(chat, constrained=constrained))

        yield make


def _weather_agent(model: StringModeModel, calls: list[str]) -> Agent[None, str]:
    agent = Agent(model, instructions="You are a weather bot.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append(city)
        return f"21 degrees in {city}"

    return agent


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        assert isinstance(server, ScriptedModelServer)
        yield server


def scripted(*replies: str) -> Callable[[ModelCall], Reply]:
    """The n-th reply for a request holding n-1 assistant messages (tool results are user turns here)."""

    def handler(call: ModelCall) -> Reply:
        answered = sum(1 for m in call.messages if m.get("role") == "assistant")
        return Reply(text=replies[min(answered, len(replies) - 1)])

    return handler


def _system_text(call: ModelCall) -> str:
    return "\n".join(call.text_of("system"))


async def test_tools_are_described_in_the_prompt_and_parsed_back_into_native_calls(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = scripted(CALL_PARIS, '{"answer": "It is 21 degrees in Paris."}')
    calls: list[str] = []

    result = await _weather_agent(await make_model(model_server.url), calls).run("Weather in Paris?")

    assert result.output == "It is 21 degrees in Paris."
    assert calls == ["Paris"]
    first, second = model_server.calls
    for call in (first, second):
        assert "tools" not in call.body
        assert "tool_choice" not in call.body
        assert all(m["role"] in ("system", "user", "assistant") for m in call.messages)
        assert all("tool_calls" not in m and m.get("content") is not None for m in call.messages)
    assert "You are a weather bot." in _system_text(first)
    assert "- get_weather: Get the current weather for a city. Arguments: city (string, required)." in _system_text(
        first
    )
    response_format = first.body["response_format"]
    assert response_format["type"] == "json_schema"
    tool_calls_option = response_format["json_schema"]["schema"]["anyOf"][0]
    assert tool_calls_option["properties"]["tool_calls"]["items"]["properties"]["name"]["enum"] == ["get_weather"]
    assert second.messages[-2] == {"role": "assistant", "content": json.dumps(json.loads(CALL_PARIS))}
    assert second.last_user_text == (
        'get_weather returned "21 degrees in Paris".\nAnswer the question "Weather in Paris?" by stating this result.'
    )
    tool_call = next(p for m in result.all_messages() for p in getattr(m, "parts", []) if p.part_kind == "tool-call")
    assert tool_call.args == {"city": "Paris"}


async def test_without_constrained_output_plain_text_is_the_answer(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = scripted(f"Let me check.\n```json\n{CALL_PARIS}\n```", "It is 21 degrees in Paris.")
    calls: list[str] = []

    result = await _weather_agent(await make_model(model_server.url, constrained="off"), calls).run("Weather in Paris?")

    assert result.output == "It is 21 degrees in Paris."
    assert calls == ["Paris"]
    assert all("response_format" not in call.body for call in model_server.calls)
    assert "reply to the user in plain text" in _system_text(model_server.calls[0])


async def test_invalid_arguments_go_back_to_the_model_as_a_text_retry(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = scripted(
        '{"tool_calls": [{"name": "get_weather", "arguments": {"town": "Paris"}}]}',
        CALL_PARIS,
        '{"answer": "21 degrees."}',
    )
    calls: list[str] = []

    result = await _weather_agent(await make_model(model_server.url), calls).run("Weather in Paris?")

    assert result.output == "21 degrees."
    assert calls == ["Paris"]
    retry_prompt = model_server.calls[1].last_user_text
    assert retry_prompt.startswith("get_weather was called with invalid arguments:")
    assert "city" in retry_prompt
    assert "Field required" in retry_prompt
    assert retry_prompt.endswith("Fix the arguments and call the tool again.")


async def test_unknown_tools_get_pydantic_ais_retry_as_text(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = scripted(
        '{"tool_calls": [{"name": "get_wether", "arguments": {"city": "Paris"}}]}',
        CALL_PARIS,
        '{"answer": "ok"}',
    )
    calls: list[str] = []

    assert (await _weather_agent(await make_model(model_server.url), calls).run("Weather?")).output == "ok"
    retry_prompt = model_server.calls[1].last_user_text
    assert "get_wether" in retry_prompt
    assert "get_weather" in retry_prompt


def _by_last_user_text(replies: dict[str, str], default: str) -> Callable[[ModelCall], Reply]:
    def handler(call: ModelCall) -> Reply:
        text = call.last_user_text
        return Reply(text=next((reply for key, reply in replies.items() if key in text), default))

    return handler


async def test_an_unreadable_tool_call_is_asked_again_within_the_request(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = _by_last_user_text(
        {"could not be read": CALL_PARIS, "by stating": '{"answer": "21 degrees."}'},
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Par',
    )
    calls: list[str] = []

    result = await _weather_agent(await make_model(model_server.url), calls).run("Weather in Paris?")

    assert result.output == "21 degrees."
    assert calls == ["Paris"]
    assert len(model_server.calls) == 3
    assert "could not be read" in model_server.calls[1].last_user_text
    assert result.usage.requests == 2


def _answer_when_only_answers_are_allowed(call: ModelCall) -> Reply:
    schema = call.body["response_format"]["json_schema"]["schema"]
    return Reply(text='{"answer": "21 degrees."}' if schema.get("required") == ["answer"] else CALL_PARIS)


async def test_repeating_an_answered_call_is_asked_again_with_answers_only(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = _answer_when_only_answers_are_allowed
    calls: list[str] = []

    result = await _weather_agent(await make_model(model_server.url), calls).run("Weather in Paris?")

    assert result.output == "21 degrees."
    assert calls == ["Paris"]
    assert len(model_server.calls) == 3
    repeated, answer_only = model_server.calls[1:]
    assert answer_only.messages == repeated.messages, "the repeated call is dropped, not added to the history"


async def test_repeating_an_answered_call_without_constrained_output_is_told_to_answer(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = _by_last_user_text({"Do not call it again": "21 degrees."}, CALL_PARIS)
    calls: list[str] = []

    result = await _weather_agent(await make_model(model_server.url, constrained="off"), calls).run("Weather?")

    assert result.output == "21 degrees."
    assert calls == ["Paris"]


async def test_streaming_streams_answers_and_runs_tool_calls(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = scripted(CALL_PARIS, '{"answer": "It is 21 degrees in sunny Paris today."}')
    calls: list[str] = []
    agent = _weather_agent(await make_model(model_server.url), calls)

    async with agent.run_stream("Weather in Paris?") as run:
        deltas = [delta async for delta in run.stream_text(delta=True, debounce_by=None)]

    assert calls == ["Paris"]
    assert "".join(deltas) == "It is 21 degrees in sunny Paris today."
    assert len(deltas) > 3
    assert all(call.body.get("stream") for call in model_server.calls)


async def test_streaming_plain_text_passes_through(model_server: ScriptedModelServer, make_model: ModelFactory) -> None:
    model_server.handler = scripted("Hello there, nice to meet you.")
    agent = _weather_agent(await make_model(model_server.url, constrained="off"), [])

    async with agent.run_stream("Hi") as run:
        deltas = [delta async for delta in run.stream_text(delta=True, debounce_by=None)]

    assert "".join(deltas) == "Hello there, nice to meet you."
    assert len(deltas) > 3


async def test_without_tools_the_request_is_passed_through(
    model_server: ScriptedModelServer, make_model: ModelFactory
) -> None:
    model_server.handler = scripted("plain answer")

    result = await Agent(await make_model(model_server.url)).run("Hi")

    assert result.output == "plain answer"
    [call] = model_server.calls
    assert "response_format" not in call.body
    assert "tools" not in call.body


def _refusing_formats(*kinds: str) -> Callable[[dict[str, Any]], str | None]:
    def refuse(body: dict[str, Any]) -> str | None:
        kind = (body.get("response_format") or {}).get("type")
        return f"response_format type {kind!r} is not supported" if kind in kinds else None

    return refuse


async def test_auto_constrained_output_falls_back_to_the_form_the_api_accepts(make_model: ModelFactory) -> None:
    with RefusingModelServer(_refusing_formats("json_schema"), [CALL_PARIS, '{"answer": "21."}']) as api:
        assert isinstance(api, RefusingModelServer)
        model = await make_model(api.url)
        calls: list[str] = []

        assert (await _weather_agent(model, calls).run("Weather in Paris?")).output == "21."

        assert model.response_format == "json_object"
        kinds = [body["response_format"]["type"] for body in api.bodies]
        assert kinds == ["json_schema", "json_object", "json_object"]
        assert "anyOf" in api.bodies[1]["response_format"]["schema"]


async def test_auto_constrained_output_ends_without_a_response_format(make_model: ModelFactory) -> None:
    with RefusingModelServer(_refusing_formats("json_schema", "json_object"), [CALL_PARIS, "21 degrees."]) as api:
        assert isinstance(api, RefusingModelServer)
        model = await make_model(api.url)

        assert (await _weather_agent(model, []).run("Weather in Paris?")).output == "21 degrees."
        assert model.response_format == "off"
        assert "response_format" not in api.bodies[-1]


async def test_a_forced_form_that_the_api_refuses_is_an_error(make_model: ModelFactory) -> None:
    with RefusingModelServer(_refusing_formats("json_schema"), ["x"]) as api:
        assert isinstance(api, RefusingModelServer)
        agent = _weather_agent(await make_model(api.url, constrained="json_schema"), [])
        with pytest.raises(Exception, match="not supported"):
            await agent.run("Weather?")
