"""Real Python agent frameworks as PAIS clients: LangChain's `ChatOpenAI` and Pydantic AI's `OpenAIChatModel`.

The client owns the tool: PAIS offers it to the (scripted) model, pauses on the call, the client runs it and
sends the result back, and the model sees that result. Structured output is parsed into the client's type.
The OpenAI Agents SDK is not here: every release that works with the locked `openai` 3 needs `websockets<17`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted, tool_call
from pydantic import BaseModel, SecretStr
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from .conftest import Served


class City(BaseModel):
    name: str
    population: int


CITY_JSON = '{"name": "Paris", "population": 2100000}'


def _tool_results(scripted_model: ScriptedModelServer) -> list[str]:
    """The tool results the model saw in its last call."""
    return [m["content"] for m in scripted_model.calls[-1].messages if m["role"] == "tool"]


def _langchain(pais: Served, responses_api: bool = False) -> ChatOpenAI:
    return ChatOpenAI(
        model="m",
        base_url=f"{pais.url}/v1",
        api_key=SecretStr("unused"),
        max_retries=0,
        use_responses_api=responses_api,
    )


def _ask(model: Runnable[list[BaseMessage], BaseMessage], messages: list[BaseMessage], streamed: bool) -> AIMessage:
    """One model turn, invoked or streamed and its chunks added up as LangChain does."""
    if not streamed:
        message = model.invoke(messages)
        assert isinstance(message, AIMessage)
        return message
    first, *rest = (chunk for chunk in model.stream(messages) if isinstance(chunk, AIMessageChunk))
    return sum(rest, first)


@pytest.mark.parametrize("streamed", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("responses_api", [False, True], ids=["chat", "responses"])
def test_langchain_bind_tools_runs_the_tool_in_the_client(
    pais: Served, scripted_model: ScriptedModelServer, streamed: bool, responses_api: bool
) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")
    ran: list[str] = []

    @tool
    def lookup_order(id: str) -> str:
        """Look an order up in the client's database."""
        ran.append(id)
        return f"order {id} shipped Monday"

    model = _langchain(pais, responses_api).bind_tools([lookup_order])
    messages: list[BaseMessage] = [HumanMessage("Where is order 42?")]
    paused = _ask(model, messages, streamed)
    assert [(c["name"], c["args"]) for c in paused.tool_calls] == [("lookup_order", {"id": "42"})]
    if not responses_api:  # a response has no finish reason: its output holds the function calls
        assert paused.response_metadata["finish_reason"] == "tool_calls"
    messages += [paused, *(lookup_order.invoke(call) for call in paused.tool_calls)]

    answer = _ask(model, messages, streamed)

    assert answer.text == "Order 42 ships on Monday."
    assert ran == ["42"]
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]
    assert [t["function"]["name"] for t in scripted_model.calls[0].body["tools"]] == ["lookup_order"]


@pytest.mark.parametrize(
    ("method", "responses_api"),
    [("json_schema", False), ("function_calling", False), ("json_schema", True)],
    ids=["json_schema", "function_calling", "responses-json_schema"],
)
def test_langchain_with_structured_output(
    pais: Served, scripted_model: ScriptedModelServer, method: str, responses_api: bool
) -> None:
    if method == "json_schema":
        scripted_model.handler = scripted(CITY_JSON)
    else:  # LangChain forces a call of a tool named after the type; the client reads its arguments
        scripted_model.handler = scripted(Reply(tool_calls=[("City", json.loads(CITY_JSON))]))

    city = _langchain(pais, responses_api).with_structured_output(City, method=method).invoke("Describe Paris.")  # type: ignore[arg-type]

    assert city == City(name="Paris", population=2100000)
    body = scripted_model.calls[-1].body
    if method == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
    else:
        assert [t["function"]["name"] for t in body["tools"]] == ["City"]


@pytest.fixture
async def pais_model(pais: Served) -> AsyncIterator[OpenAIChatModel]:
    """Pydantic AI's OpenAI chat model pointed at PAIS."""
    async with openai.AsyncOpenAI(base_url=f"{pais.url}/v1", api_key="unused", max_retries=0) as client:
        yield OpenAIChatModel("m", provider=OpenAIProvider(openai_client=client))


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_stream"])
async def test_pydantic_ai_client_tool_and_tool_output(
    pais_model: OpenAIChatModel, scripted_model: ScriptedModelServer, streamed: bool
) -> None:
    scripted_model.handler = scripted(
        tool_call("lookup_order", id="42"), Reply(tool_calls=[("final_result", json.loads(CITY_JSON))])
    )
    ran: list[str] = []
    agent = Agent(pais_model, output_type=City)

    @agent.tool_plain
    def lookup_order(id: str) -> str:
        """Look an order up in the client's database."""
        ran.append(id)
        return f"order {id} shipped Monday"

    if streamed:
        async with agent.run_stream("Where is order 42?") as run:
            output = await run.get_output()
    else:
        output = (await agent.run("Where is order 42?")).output

    assert output == City(name="Paris", population=2100000)
    assert ran == ["42"]
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]
    assert {t["function"]["name"] for t in scripted_model.calls[0].body["tools"]} == {"lookup_order", "final_result"}


async def test_pydantic_ai_native_output(pais_model: OpenAIChatModel, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(CITY_JSON)
    agent = Agent(pais_model, output_type=NativeOutput(City))

    result = await agent.run("Describe Paris.")

    assert result.output == City(name="Paris", population=2100000)
    assert scripted_model.calls[-1].body["response_format"]["type"] == "json_schema"


async def test_pydantic_ai_streamed_through_pais(
    pais_model: OpenAIChatModel, scripted_model: ScriptedModelServer
) -> None:
    answer = "The quick brown fox jumps over the lazy dog"
    scripted_model.handler = scripted(answer)
    agent = Agent(pais_model)

    async with agent.run_stream("go") as run:
        parts = [delta async for delta in run.stream_text(delta=True, debounce_by=None)]

    assert len(parts) > 1
    assert "".join(parts) == answer
