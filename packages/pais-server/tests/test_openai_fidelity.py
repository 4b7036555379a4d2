"""OpenAI fidelity: finish reasons, usage, parameters, the model endpoint; the official client over loopback."""

from __future__ import annotations

import json

import openai
import pytest
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted
from pydantic import BaseModel

from .conftest import Served, ServeFactory

ASK = [{"role": "user", "content": "Tell me a story."}]


@pytest.mark.parametrize("reason", ["length", "content_filter"])
def test_finish_reason_is_the_models(pais: Served, scripted_model: ScriptedModelServer, reason: str) -> None:
    scripted_model.handler = scripted(Reply(text="Once upon a", finish_reason=reason))

    completion = pais.openai.chat.completions.create(model="m", messages=ASK, max_tokens=3)  # type: ignore[arg-type]
    chunks = list(pais.openai.chat.completions.create(model="m", messages=ASK, max_tokens=3, stream=True))  # type: ignore[arg-type]

    assert completion.choices[0].finish_reason == reason
    assert completion.choices[0].message.content == "Once upon a"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == reason


def test_max_tokens_reaches_the_model_api_as_max_tokens(pais: Served, scripted_model: ScriptedModelServer) -> None:
    pais.openai.chat.completions.create(model="m", messages=ASK, max_tokens=7)  # type: ignore[arg-type]
    pais.openai.chat.completions.create(model="m", messages=ASK, max_completion_tokens=9)  # type: ignore[arg-type]

    sent = [call.body for call in scripted_model.calls]
    assert [body.get("max_tokens") for body in sent] == [7, 9]
    assert all("max_completion_tokens" not in body for body in sent)


def test_streamed_usage_is_omitted_when_the_model_api_streams_none(
    pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(Reply(text="No counts here.", usage=False))

    chunks = list(
        pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    completion = pais.openai.chat.completions.create(model="m", messages=ASK)  # type: ignore[arg-type]

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "No counts here."
    assert all(c.usage is None for c in chunks)
    assert completion.usage is None


def test_streamed_usage_is_the_models_count(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("Twelve chars")  # 12 // 4 = 3 completion tokens at the scripted model

    chunks = list(
        pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 3
    assert usage.total_tokens == usage.prompt_tokens + 3


def test_models_retrieve_the_agent(pais: Served) -> None:
    model = pais.openai.models.retrieve("test-agent")

    assert (model.id, model.object) == ("test-agent", "model")
    assert model == pais.openai.models.list().data[0]


def test_models_retrieve_another_id_is_an_openai_404(pais: Served) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        pais.openai.models.retrieve("other-agent")

    assert caught.value.code == "not_found"
    assert "other-agent" in caught.value.message


def test_sampling_parameters_reach_the_model_api(pais: Served, scripted_model: ScriptedModelServer) -> None:
    pais.openai.chat.completions.create(
        model="m",
        messages=ASK,  # type: ignore[arg-type]
        stop=["THE END"],
        presence_penalty=0.5,
        frequency_penalty=-0.25,
        logit_bias={"42": -100},
        user="user-7",
        n=1,
        temperature=0.3,
    )
    pais.openai.chat.completions.create(model="m", messages=ASK, stop="STOP", stream=True).close()  # type: ignore[arg-type]

    first = scripted_model.calls[0].body
    assert first["stop"] == ["THE END"]
    assert (first["presence_penalty"], first["frequency_penalty"]) == (0.5, -0.25)
    assert first["logit_bias"] == {"42": -100}
    assert first["user"] == "user-7"
    assert first["temperature"] == 0.3
    assert scripted_model.calls[1].body["stop"] == ["STOP"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    ],
)
def test_unsupported_parameters_are_refused_by_name(
    pais: Served, scripted_model: ScriptedModelServer, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        pais.openai.chat.completions.create(model="m", messages=ASK, extra_body=extra)  # type: ignore[arg-type]

    assert caught.value.param == param
    assert param in caught.value.message
    assert scripted_model.calls == []


class City(BaseModel):
    name: str
    population: int


CITY_JSON = '{"name": "Paris", "population": 2100000}'


def test_json_schema_output_with_the_clients_parse(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(CITY_JSON)

    completion = pais.openai.chat.completions.parse(model="m", messages=ASK, response_format=City)  # type: ignore[arg-type]

    assert completion.choices[0].message.parsed == City(name="Paris", population=2100000)
    assert completion.choices[0].finish_reason == "stop"
    sent = scripted_model.calls[-1].body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "City"
    assert sent["json_schema"]["schema"]["required"] == ["name", "population"]


def test_json_schema_output_streamed(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(CITY_JSON)
    response_format = {"type": "json_schema", "json_schema": {"name": "city", "schema": City.model_json_schema()}}

    chunks = list(
        pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            response_format=response_format,  # type: ignore[arg-type]
            stream=True,
        )
    )

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert City.model_validate_json(content) == City(name="Paris", population=2100000)


def test_json_object_output(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted('```json\n{"answer": 42}\n```')

    completion = pais.openai.chat.completions.create(
        model="m",
        messages=ASK,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )

    assert json.loads(completion.choices[0].message.content or "") == {"answer": 42}
    assert scripted_model.calls[-1].body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_output_in_string_mode(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer, stream: bool
) -> None:
    pais = serve_pais(model_api_url=scripted_model.url, model_name="scripted", tool_call_mode="string")
    scripted_model.handler = scripted(CITY_JSON)
    response_format = {"type": "json_schema", "json_schema": {"name": "city", "schema": City.model_json_schema()}}

    if stream:
        chunks = pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            response_format=response_format,  # type: ignore[arg-type]
            stream=True,
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        completion = pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            response_format=response_format,  # type: ignore[arg-type]
        )
        content = completion.choices[0].message.content or ""

    assert City.model_validate_json(content) == City(name="Paris", population=2100000)
    assert any("population" in text for text in scripted_model.calls[-1].text_of("system"))  # schema in the prompt


def test_json_schema_without_an_object_schema_is_refused(pais: Served, scripted_model: ScriptedModelServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        pais.openai.chat.completions.create(
            model="m",
            messages=ASK,  # type: ignore[arg-type]
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}},
        )

    assert caught.value.param == "response_format"
    assert scripted_model.calls == []
