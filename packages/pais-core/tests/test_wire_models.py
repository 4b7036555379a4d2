"""Wire models accept what OpenAI clients send and produce OpenAI's shapes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pais_core import AgentCard, ChatCompletionRequest, ErrorBody, MemoryEvent


def test_request_accepts_unknown_openai_parameters_and_multipart_content() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
            "frequency_penalty": 0.5,
            "logit_bias": {},
        }
    )
    assert request.model is None
    assert request.messages[0].text() == "ab"


def test_request_rejects_empty_messages() -> None:
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate({"messages": []})


def test_error_body_shape() -> None:
    body = ErrorBody.of("nope", "invalid_request_error", "bad").model_dump(exclude_none=True)
    assert body == {"error": {"message": "nope", "type": "invalid_request_error", "code": "bad"}}


def test_event_ids_are_unique_and_long() -> None:
    ids = {MemoryEvent(event_type="user_message").event_id for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 36 for i in ids)


def test_card_round_trips_unknown_fields() -> None:
    card = AgentCard.model_validate(
        {"name": "a", "description": "d", "url": "http://a/", "version": "1", "iconUrl": "http://i"}
    )
    wire = card.to_wire()
    assert wire["iconUrl"] == "http://i"
    assert wire["protocolVersion"]
    assert wire["defaultInputModes"] == ["text/plain"]
