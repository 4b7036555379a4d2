"""The string-mode text protocol: parsing replies (well-formed, malformed, partial, adversarial) and rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_ai.tools import ToolDefinition

from pais_server.tools._text import (
    AnswerStream,
    ParsedCall,
    ReplyStream,
    ToolResult,
    describe_tools,
    parse_reply,
    render_tool_calls,
    render_tool_results,
    reply_schema,
)

WEATHER = ToolDefinition(
    name="get_weather",
    description="Get the current weather for a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
        "required": ["city"],
    },
)
TIME = ToolDefinition(name="get_time", description="Current time.", parameters_json_schema={"type": "object"})
TOOLS = [WEATHER, TIME]
PARIS = ParsedCall("get_weather", {"city": "Paris"})


@pytest.mark.parametrize(
    "text",
    [
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
        '{"tool_calls": {"name": "get_weather", "arguments": {"city": "Paris"}}}',
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
        '{"tool": "get_weather", "args": {"city": "Paris"}}',
        '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}',
        '[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        '```json\n{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}\n```',
        '```\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]} and then some trailing garbage }}',
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"},},]}',
        "{'name': 'get_weather', 'arguments': {'city': 'Paris'}}",
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
        'get_weather(city="Paris")',
        'get_weather("Paris")',
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
    ],
)
def test_reads_one_call_in_the_shapes_models_write(text: str) -> None:
    parsed = parse_reply(text, TOOLS)

    assert parsed.calls == (PARIS,)
    assert parsed.error is None
    assert parsed.text == ""


def test_keeps_the_chatter_before_the_call() -> None:
    text = 'Sure, let me check.\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\nDone!'

    parsed = parse_reply(text, TOOLS)

    assert parsed.calls == (PARIS,)
    assert parsed.text == "Sure, let me check."


def test_reads_several_calls_in_order() -> None:
    text = json.dumps(
        {
            "tool_calls": [
                {"name": "get_time", "arguments": {}},
                {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}},
            ]
        }
    )

    parsed = parse_reply(text, TOOLS)

    assert parsed.calls == (ParsedCall("get_time", {}), ParsedCall("get_weather", {"city": "Oslo", "unit": "C"}))


def test_calls_in_separate_blocks_are_all_read() -> None:
    text = (
        '```json\n{"name": "get_time", "arguments": {}}\n```\n'
        'and\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    )

    assert parse_reply(text, TOOLS).calls == (ParsedCall("get_time", {}), PARIS)


def test_missing_arguments_mean_an_empty_object() -> None:
    assert parse_reply('{"tool_calls": [{"name": "get_time"}]}', TOOLS).calls == (ParsedCall("get_time", {}),)


def test_arguments_that_are_not_an_object_are_kept_raw_for_validation_to_reject() -> None:
    parsed = parse_reply('{"tool_calls": [{"name": "get_weather", "arguments": "Paris"}]}', TOOLS)
    assert parsed.calls == (ParsedCall("get_weather", "Paris"),)

    parsed = parse_reply('{"tool_calls": [{"name": "get_weather", "arguments": ["Paris"]}]}', TOOLS)
    assert parsed.calls == (ParsedCall("get_weather", '["Paris"]'),)


def test_unknown_tool_names_inside_tool_calls_are_passed_on() -> None:
    parsed = parse_reply('{"tool_calls": [{"name": "get_wether", "arguments": {"city": "Paris"}}]}', TOOLS)

    assert parsed.calls == (ParsedCall("get_wether", {"city": "Paris"}),)


def test_plain_text_is_an_answer() -> None:
    parsed = parse_reply("  The weather in Paris is sunny.\n", TOOLS)

    assert (parsed.text, parsed.calls, parsed.error) == ("The weather in Paris is sunny.", (), None)


def test_json_data_that_is_not_a_call_is_an_answer() -> None:
    for text in ['{"name": "Alice", "age": 3}', '{"city": "Paris"}', "[1, 2, 3]", '{"answer": 42}']:
        parsed = parse_reply(text, TOOLS)
        assert parsed.calls == ()
        assert parsed.error is None
        assert parsed.text == text


def test_answer_object_is_an_answer() -> None:
    assert parse_reply('{"answer": "It is \\"sunny\\"\\n\\u00e9"}', TOOLS).text == 'It is "sunny"\né'


def test_a_truncated_answer_keeps_what_arrived() -> None:
    assert parse_reply('{"answer": "It is sun', TOOLS).text == "It is sun"


@pytest.mark.parametrize(
    "text",
    [
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Par',
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": Paris}}]}',
        '{"tool_calls": [',
        '```json\n{"name": "get_weather", "arguments": {"city": "Paris"\n```',
        '{"tool_calls": "get_weather"}',
    ],
)
def test_a_broken_call_asks_for_a_retry_with_a_clear_message(text: str) -> None:
    parsed = parse_reply(text, TOOLS)

    assert parsed.calls == ()
    assert parsed.error is not None
    assert "could not be read" in parsed.error
    assert '{"tool_calls": [{"name": "<tool name>"' in parsed.error
    assert "get_weather, get_time" in parsed.error


def test_an_empty_reply_is_an_empty_answer() -> None:
    assert parse_reply("", TOOLS) == parse_reply("   \n", TOOLS)
    assert parse_reply("", TOOLS).text == ""


def test_adversarial_text_is_bounded_and_does_not_crash() -> None:
    nested = "[" * 5000 + "]" * 5000
    brackets = "{" * 100_000
    quotes = '{"' * 50_000
    for text in [nested, brackets, quotes, "get_weather(" * 10_000, "\x00\ud800{}", "{" + "a" * 200_000]:
        parse_reply(text, TOOLS)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}[]\"\\:, ntrueaf0123456789abcgetwhr_()'`\n")), max_size=200))
def test_fuzz_parse_never_raises_and_stays_consistent(text: str) -> None:
    parsed = parse_reply(text, TOOLS)

    assert isinstance(parsed.text, str)
    if parsed.error is not None:
        assert parsed.calls == ()
    for call in parsed.calls:
        assert call.name
        assert isinstance(call.arguments, dict | str)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), _json_values, max_size=4),
    st.text(max_size=30).filter(lambda t: "{" not in t and "[" not in t and "get_weather" not in t),
    st.text(max_size=30),
    st.booleans(),
)
def test_fuzz_a_valid_call_is_read_whatever_surrounds_it(
    arguments: dict[str, Any], before: str, after: str, fenced: bool
) -> None:
    call = json.dumps({"tool_calls": [{"name": "get_weather", "arguments": arguments}]})
    text = f"{before}\n```json\n{call}\n```\n{after}" if fenced else f"{before} {call} {after}"

    parsed = parse_reply(text, TOOLS)

    assert parsed.calls[0] == ParsedCall("get_weather", arguments)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.integers(min_value=1, max_value=7))
def test_fuzz_answer_stream_decodes_any_split(answer: str, size: int) -> None:
    encoded = json.dumps({"answer": answer})
    stream = AnswerStream()

    decoded = "".join(stream.feed(encoded[i : i + size]) for i in range(0, len(encoded), size))

    assert decoded == answer
    assert stream.done


def test_reply_stream_passes_plain_text_through_and_holds_tool_calls() -> None:
    stream = ReplyStream(TOOLS, json_answers=False)
    text = 'Let me look that up. ```json {"name": "get_weather", "arguments": {"city": "Paris"}} ```'
    shown = [stream.feed(text[i : i + 4]) for i in range(0, len(text), 4)]

    parsed, rest = stream.finish()

    assert "".join(shown) == "Let me look that up. "
    assert (parsed.calls, rest) == ((PARIS,), "")


def test_reply_stream_releases_held_text_that_was_not_a_call() -> None:
    stream = ReplyStream(TOOLS, json_answers=False)
    shown = "".join(stream.feed(piece) for piece in ["Use ", "`x = {1}` ", "in ", "Python."])

    parsed, rest = stream.finish()

    assert parsed.calls == ()
    assert shown + rest == "Use `x = {1}` in Python."


def test_reply_stream_decodes_constrained_answers_as_they_arrive() -> None:
    stream = ReplyStream(TOOLS, json_answers=True)
    pieces = ['{"ans', 'wer": "It', " is \\u00e9", 'té"}']

    shown = [stream.feed(piece) for piece in pieces]
    parsed, rest = stream.finish()

    assert shown == ["", "It", " is é", "té"]
    assert (parsed.text, rest) == ("It is été", "")


def test_reply_stream_shows_nothing_of_a_constrained_tool_call() -> None:
    stream = ReplyStream(TOOLS, json_answers=True)
    text = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'

    assert [stream.feed(c) for c in text] == [""] * len(text)
    assert stream.finish() == (parse_reply(text, TOOLS), "")


def test_describe_tools_lists_each_tool_with_its_arguments() -> None:
    text = describe_tools(TOOLS, json_answers=True)

    assert "- get_weather: Get the current weather for a city. Arguments: city (string, required); " in text
    assert 'unit (string, optional) one of ["C", "F"]' in text
    assert "- get_time: Current time. Arguments: none." in text
    assert '{"tool_calls": [{"name": "<tool name>"' in text
    assert '{"answer": "..."}' in text
    assert '{"answer"' not in describe_tools(TOOLS, json_answers=False)


def test_reply_schema_ties_each_tool_name_to_its_own_arguments() -> None:
    schema = reply_schema(TOOLS)

    calls, answer = schema["anyOf"]
    items = calls["properties"]["tool_calls"]["items"]["anyOf"]
    assert [item["properties"]["name"]["enum"] for item in items] == [["get_weather"], ["get_time"]]
    assert items[0]["properties"]["arguments"] == WEATHER.parameters_json_schema
    assert answer["required"] == ["answer"]
    assert reply_schema([]) == answer


def test_rendered_calls_parse_back_to_the_same_calls() -> None:
    calls = [PARIS, ParsedCall("get_time", {})]

    assert parse_reply(render_tool_calls(calls), TOOLS).calls == tuple(calls)


def test_rendered_results_quote_the_result_and_restate_the_question() -> None:
    text = render_tool_results([ToolResult("get_weather", "21 degrees")], question="Weather in Paris?")
    assert text == 'get_weather returned "21 degrees".\nAnswer the question "Weather in Paris?" by stating this result.'

    text = render_tool_results([ToolResult("get_weather", "missing city", "retried")], question="q")
    assert "called with invalid arguments: missing city" in text
    assert text.endswith("Fix the arguments and call the tool again.")

    text = render_tool_results(
        [ToolResult("get_weather", "down", "failed"), ToolResult("get_time", "noon")], question=None
    )
    assert "get_weather failed: down" in text
    assert text.endswith("Answer the user's question by stating these results.")
