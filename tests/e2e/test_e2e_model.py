"""The scripted orchestrator model decides as the e2e suite expects, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from pais_testing.e2e_model import ORCHESTRATOR_MODEL, RESULT_PREFIX, SLOW_SECONDS, orchestrator_model
from pais_testing.scripted_model import ModelCall, ScriptedModelServer


@pytest.fixture(scope="module")
def model() -> Iterator[openai.OpenAI]:
    server = ScriptedModelServer(orchestrator_model)
    server.model_name = ORCHESTRATOR_MODEL
    with server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        yield client
        client.close()


def test_a_mention_delegates_the_task(model: openai.OpenAI) -> None:
    answer = model.chat.completions.create(
        model=ORCHESTRATOR_MODEL, messages=[{"role": "user", "content": "@worker-b What is the capital of France?"}]
    )
    (call,) = answer.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "delegate_to_worker_b"
    assert json.loads(call.function.arguments) == {"task": "What is the capital of France?"}


def test_a_tool_result_is_answered_with_it(model: openai.OpenAI) -> None:
    answer = model.chat.completions.create(
        model=ORCHESTRATOR_MODEL,
        messages=[
            {"role": "user", "content": "@worker-a 6 x 7?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "delegate_to_worker_a", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "forty-two"},
        ],
    )
    assert answer.choices[0].message.content == f"{RESULT_PREFIX} forty-two"


def test_a_new_turn_after_a_delegation_starts_over(model: openai.OpenAI) -> None:
    answer = model.chat.completions.create(
        model=ORCHESTRATOR_MODEL,
        messages=[
            {"role": "user", "content": "@worker-a 6 x 7?"},
            {"role": "tool", "tool_call_id": "c1", "content": "forty-two"},
            {"role": "assistant", "content": f"{RESULT_PREFIX} forty-two"},
            {"role": "user", "content": "thanks"},
        ],
    )
    assert answer.choices[0].message.content == "orchestrator heard: thanks"


def test_slow_marker_delays_the_reply() -> None:
    reply = orchestrator_model(ModelCall(body={}, headers={}, messages=[{"role": "user", "content": "[slow] go"}]))
    assert reply.delay == SLOW_SECONDS
