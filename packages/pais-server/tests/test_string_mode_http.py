"""String mode through the PAIS HTTP API: TOOL_CALL_MODE=string and an auto probe that picks it."""

from __future__ import annotations

import re

import pytest
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer
from pydantic_ai import Agent

from .conftest import Served, ServeFactory


def _calculator() -> Agent[None, str]:
    agent = Agent(name="calc")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    return agent


def _text_model(call: ModelCall) -> Reply:
    """A model without native tools: it calls `add` by writing JSON, then answers from the quoted result."""
    if "tools" in call.body:
        return Reply(text="I can only write text.")
    result = re.search(r'add returned "([^"]*)"', call.last_user_text)
    if result is None:
        return Reply(text='{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 40}}]}')
    return Reply(text=f'{{"answer": "The sum is {result.group(1)}, as the tool said."}}')


@pytest.fixture
def string_mode_pais(serve_pais: ServeFactory, scripted_model: ScriptedModelServer) -> Served:
    scripted_model.handler = _text_model
    return serve_pais(_calculator(), model_api_url=scripted_model.url, model_name="scripted", tool_call_mode="string")


def test_string_mode_runs_tools_through_the_chat_api(
    string_mode_pais: Served, scripted_model: ScriptedModelServer
) -> None:
    served = string_mode_pais
    completion = served.openai.chat.completions.create(model="x", messages=[{"role": "user", "content": "2+40?"}])

    assert completion.choices[0].message.content == "The sum is 42, as the tool said."
    assert all("tools" not in call.body for call in scripted_model.calls)
    assert all(m.get("content") is not None for call in scripted_model.calls for m in call.messages)


def test_string_mode_streams_only_the_answer(string_mode_pais: Served) -> None:
    stream = string_mode_pais.openai.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "2+40?"}], stream=True
    )
    deltas = [chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta.content]

    assert "".join(deltas) == "The sum is 42, as the tool said."
    assert not any("{" in delta or "tool_calls" in delta for delta in deltas)


def test_auto_mode_probes_the_model_and_picks_string_mode(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = _text_model
    served = serve_pais(_calculator(), model_api_url=scripted_model.url, model_name="probe-me", tool_call_mode="auto")

    completion = served.openai.chat.completions.create(model="x", messages=[{"role": "user", "content": "2+40?"}])

    assert completion.choices[0].message.content == "The sum is 42, as the tool said."
    probe, *chat = scripted_model.calls
    assert [tool["function"]["name"] for tool in probe.body["tools"]] == ["pais_probe"]
    assert chat
    assert all("tools" not in call.body for call in chat)
    assert served.http.get("/ready").status_code == 200
