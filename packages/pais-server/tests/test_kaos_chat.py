"""The KAOS UI's streamed chat against PAIS: progress parsed from content, the session read from the chunks."""

from __future__ import annotations

import json

import pytest
from pais_testing.kaos_clients import stream_chat
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, tool_call
from pydantic_ai import Agent

from pais_core import SubAgentSpec

from .conftest import Served, ServeFactory


def forecasting_agent() -> Agent[None, str]:
    agent = Agent(name="forecaster")

    @agent.tool_plain
    def forecast(city: str) -> str:
        """The weather forecast for a city."""
        return f"sunny in {city}"

    return agent


@pytest.fixture
def worker(serve_pais: ServeFactory) -> Served:
    return serve_pais(agent_name="worker-a", debug_mock_responses=("the worker's answer",))


def orchestrate(call: ModelCall) -> Reply:
    """First turn: the tool, then the worker, then an answer; later turns answer from the history."""
    if len(call.text_of("user")) > 1:
        return Reply(text=f"turn {len(call.text_of('user'))}, after: {call.text_of('assistant')[-1]}")
    answered = len(call.text_of("tool"))
    if answered == 0:
        return tool_call("forecast", city="Paris")
    if answered == 1:
        return tool_call("delegate_to_worker_a", task="add it up")
    return Reply(text='{"looks": "like json"} but is the answer')


def test_the_ui_reads_progress_from_content_and_keeps_the_session(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, worker: Served
) -> None:
    scripted_model.handler = orchestrate
    served = serve_pais(
        forecasting_agent(),
        model_api_url=scripted_model.url,
        model_name="scripted",
        stream_progress="content",
        sub_agents=(SubAgentSpec(name="worker-a", url=worker.url),),
    )
    first = stream_chat(served.http, [{"role": "user", "content": "plan my trip"}])

    assert first.done
    assert first.session_id is not None
    assert first.progress == [
        {"type": "progress", "step": 1, "max_steps": 5, "action": "tool_call", "target": "forecast"},
        {"type": "progress", "step": 2, "max_steps": 5, "action": "delegate", "target": "worker-a"},
    ]
    assert first.text == '{"looks": "like json"} but is the answer'  # progress never mixes with the answer

    # the UI sends the whole conversation plus the session id it read from the chunks
    messages = [
        {"role": "user", "content": "plan my trip"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "and tomorrow?"},
    ]
    second = stream_chat(served.http, messages, session_id=first.session_id)
    assert second.session_id == first.session_id
    assert second.progress == []
    assert second.text == 'turn 2, after: {"looks": "like json"} but is the answer'
    assert [e["event_type"] for e in served.events(first.session_id)].count("user_message") == 2


@pytest.mark.parametrize("mode", ["field", "none"])
def test_other_progress_modes_keep_json_out_of_the_content(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, mode: str
) -> None:
    scripted_model.handler = lambda call: (
        tool_call("forecast", city="Oslo") if not call.text_of("tool") else Reply(text="done")
    )
    served = serve_pais(
        forecasting_agent(), model_api_url=scripted_model.url, model_name="scripted", stream_progress=mode
    )
    body = {"messages": [{"role": "user", "content": "weather?"}], "stream": True}
    with served.http.stream("POST", "/v1/chat/completions", json=body) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    contents = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    progress = [c["progress"]["type"] for c in chunks if "progress" in c]
    assert contents == "done"
    assert progress == (["tool_call", "tool_result"] if mode == "field" else [])
