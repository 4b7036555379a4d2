"""Long conversations within MEMORY_SHORT_TERM_TOKEN_BUDGET, remembered through rolling summaries.

The scripted model records every request. A request's size is counted the way the README documents:
each message costs its content's estimate plus the per-message overhead, except an assistant message,
which costs what the model itself reported for it (`completion_tokens`).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from pais_testing.agent_processes import a2a_user_message
from pais_testing.redis_server import RedisServer
from pais_testing.scripted_model import ModelCall, Reply, ScriptedModelServer, tool_call
from pais_testing.threaded_server import ThreadedServer
from pydantic_ai import Agent
from pydantic_ai.capabilities import ProcessHistory
from pydantic_ai.messages import ModelMessage, ModelRequest, SystemPromptPart

from pais_core import Settings
from pais_memory import RedisMemory
from pais_server import create_app
from pais_server.runtime._tokens import PART_OVERHEAD, estimate_tokens

from .conftest import Served, ServeFactory

BUDGET = 1000
SUMMARISER = "running summary of a conversation"
ANSWER = "Noted. " + "I have written that down together with the rest of our notes for later reference. " * 2
FILLER = "Here is one more detail for the record about the migration project and its many moving parts. " * 2


def is_summariser(call: ModelCall) -> bool:
    return any(SUMMARISER in text for text in call.text_of("system"))


def summarise_turn_numbers(call: ModelCall) -> Reply:
    """A summary that keeps the user's name and says which turns it has seen so far."""
    prompt = call.last_user_text
    numbers = [int(n) for n in re.findall(r"User: turn (\d+)", prompt)]
    name = "The user's name is Ada. " if "Ada" in prompt else ""
    return Reply(text=f"{name}Covered turns up to {max(numbers, default=0)}.")


def chat_handler(call: ModelCall) -> Reply:
    return summarise_turn_numbers(call) if is_summariser(call) else Reply(text=ANSWER)


def sent_tokens(call: ModelCall) -> int:
    total = 0
    for message in call.messages:
        content = message.get("content") or ""
        if message["role"] == "assistant":
            total += max(1, len(content) // 4) + PART_OVERHEAD  # the scripted model's own count
        else:
            total += estimate_tokens(content) + PART_OVERHEAD
    return total


def chat(served: Served, session_id: str, text: str, **extra: Any) -> str:
    completion = served.openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}], extra_headers={"X-Session-ID": session_id}, **extra
    )
    return completion.choices[0].message.content or ""


def prompt_for(turn: int) -> str:
    return f"turn {turn}: " + ("my name is Ada. " if turn == 1 else "") + FILLER


def summarising(serve_pais: ServeFactory, scripted_model: ScriptedModelServer, **settings: Any) -> Served:
    """A PAIS on `chat_handler` with rolling summaries, whose token budget (in `settings`) binds before its
    context limit."""
    scripted_model.handler = chat_handler
    return serve_pais(
        model_api_url=scripted_model.url,
        model_name="scripted",
        memory_context_limit=50,
        memory_rolling_summary=True,
        **settings,
    )


def test_sixty_turns_stay_within_the_budget_and_the_first_fact_survives_in_the_summary(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    served = summarising(serve_pais, scripted_model, memory_short_term_token_budget=BUDGET)
    first = [prompt_for(1), ANSWER]
    assert estimate_tokens(first[0]) + len(ANSWER) // 4 + 2 * PART_OVERHEAD in range(90, 111)  # a turn: ~100 tokens

    for turn in range(1, 61):
        chat(served, "long", prompt_for(turn))

    events = served.events("long")
    summary_events = [e for e in events if e["event_type"] == "summary"]
    agent_calls = [call for call in scripted_model.calls if not is_summariser(call)]
    assert len(agent_calls) == 60
    sizes = [sent_tokens(call) for call in agent_calls]
    assert max(sizes) <= BUDGET
    assert max(sizes) > BUDGET * 0.7  # the budget, not the turn limit, bounded the history
    last = agent_calls[-1]
    assert all("my name is Ada" not in text for text in last.text_of("user"))  # turn 1 itself is long gone
    assert any("The user's name is Ada." in text for text in last.text_of("system"))  # ...but not forgotten

    # summarisations of one session run one at a time; the last one may still be running
    summaries = [call for call in scripted_model.calls if is_summariser(call)][: len(summary_events)]
    assert len(summaries) == len(summary_events) >= 5
    seen: set[int] = set()
    previous = "(none yet)"
    for call in summaries:
        prompt = call.last_user_text
        # the previous summary plus newly dropped turns, nothing else
        assert prompt.startswith(f"Summary so far:\n{previous}\n\nNew part of the conversation:\n")
        numbers = [int(n) for n in re.findall(r"User: turn (\d+)", prompt)]
        assert numbers == list(range(numbers[0], numbers[-1] + 1))
        assert not seen & set(numbers)
        assert numbers[0] == max(seen, default=0) + 1
        seen |= set(numbers)
        previous = summarise_turn_numbers(call).text

    latest = summary_events[-1]
    assert latest["content"] == previous
    event_ids = [e["event_id"] for e in events]
    covered = latest["metadata"]["through_event_id"]
    # the summary covers up to an agent response; the user message after it starts a replayed turn
    assert events[event_ids.index(covered)]["event_type"] == "agent_response"


def test_a_failed_summarisation_keeps_the_previous_summary(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    def handler(call: ModelCall) -> Reply:
        if not is_summariser(call):
            return Reply(text=ANSWER)
        if "(none yet)" in call.last_user_text:
            return summarise_turn_numbers(call)
        return Reply(status=500)  # every later summarisation fails

    scripted_model.handler = handler
    served = serve_pais(
        model_api_url=scripted_model.url,
        model_name="scripted",
        memory_context_limit=4,
        memory_rolling_summary=True,
    )

    for turn in range(1, 16):
        chat(served, "s", prompt_for(turn))

    assert sum(is_summariser(call) for call in scripted_model.calls) > 1
    summary_events = [e for e in served.events("s") if e["event_type"] == "summary"]
    assert len(summary_events) == 1
    last = [call for call in scripted_model.calls if not is_summariser(call)][-1]
    assert any(summary_events[0]["content"] in text for text in last.text_of("system"))
    assert len(last.text_of("user")) <= 4 + 1  # still bounded by MEMORY_CONTEXT_LIMIT


def test_an_oversized_tool_result_is_shortened_not_dropped_and_agent_history_processors_run_after(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    seen_by_processor: list[list[ModelMessage]] = []

    def mark(messages: list[ModelMessage]) -> list[ModelMessage]:
        seen_by_processor.append(list(messages))
        return [ModelRequest(parts=[SystemPromptPart(content="processed by the agent")]), *messages]

    agent = Agent(capabilities=[ProcessHistory(mark)])

    @agent.tool_plain
    def fetch_report() -> str:
        """The full quarterly report."""
        return "Quarterly report line with figures. " * 800  # ~7,000 tokens

    def handler(call: ModelCall) -> Reply:
        if call.last_user_text == "Fetch the report." and not any(m["role"] == "tool" for m in call.messages):
            return tool_call("fetch_report")
        return Reply(text="Done.")

    scripted_model.handler = handler
    served = serve_pais(
        agent, model_api_url=scripted_model.url, model_name="scripted", memory_short_term_token_budget=BUDGET
    )

    chat(served, "r", "Fetch the report.")
    chat(served, "r", "What did it say?")

    second = scripted_model.calls[-1]
    tool_messages = [m for m in second.messages if m["role"] == "tool"]
    assert len(tool_messages) == 1  # the turn stayed, call and (shortened) return together
    assert [m["tool_calls"][0]["function"]["name"] for m in second.messages if m.get("tool_calls")] == ["fetch_report"]
    content = tool_messages[0]["content"]
    assert content.startswith("Quarterly report line with figures.")
    assert "[tool result shortened by PAIS: about" in content
    assert estimate_tokens(content) <= BUDGET // 4
    assert sent_tokens(second) <= BUDGET + 16  # the tool call's arguments are counted with its name
    # the agent's own processor ran on PAIS's bounded history, and what it added reached the model
    assert any("[tool result shortened by PAIS" in str(m) for m in seen_by_processor[-1])
    assert "processed by the agent" in "\n".join(second.text_of("system"))


def test_without_a_budget_or_summaries_history_is_as_before(pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = chat_handler
    for turn in range(1, 10):
        chat(pais, "plain", prompt_for(turn))

    last = scripted_model.calls[-1]
    assert len(last.text_of("user")) == 6 + 1  # MEMORY_CONTEXT_LIMIT=6 turns, then the prompt
    assert not any(is_summariser(call) for call in scripted_model.calls)
    assert all(e["event_type"] != "summary" for e in pais.events("plain"))


@pytest.mark.redis
def test_replicas_share_the_summary_through_redis(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = chat_handler
    with RedisServer() as redis:
        settings = {
            "model_api_url": scripted_model.url,
            "model_name": "scripted",
            "memory_type": "redis",
            "memory_redis_url": redis.url,
            "memory_context_limit": 4,
            "memory_rolling_summary": True,
        }
        replicas = [serve_pais(**settings), serve_pais(**settings)]

        for turn in range(1, 13):
            chat(replicas[turn % 2], "shared", prompt_for(turn))

        last = [call for call in scripted_model.calls if not is_summariser(call)][-1]
        assert any("The user's name is Ada." in text for text in last.text_of("system"))
        events = [replica.events("shared") for replica in replicas]
        assert events[1][: len(events[0])] == events[0]  # a summary written in the background may land in between
        summaries = [e["content"] for e in events[0] if e["event_type"] == "summary"]
        system = "\n".join(last.text_of("system"))
        assert any(summary in system for summary in summaries)  # (a later one may have been written since)


def test_a2a_tasks_of_one_context_share_the_budget_and_the_summary_written_by_the_summary_model(
    serve_pais: ServeFactory, scripted_model: ScriptedModelServer
) -> None:
    served = summarising(
        serve_pais, scripted_model, memory_short_term_token_budget=600, memory_summary_model="small-summariser"
    )

    for turn in range(1, 16):
        request = {
            "jsonrpc": "2.0",
            "id": str(turn),
            "method": "message/send",
            "params": {"message": a2a_user_message(prompt_for(turn), "a2a-context")},
        }
        reply = served.http.post("/", json=request).json()
        assert reply["result"]["status"]["state"] == "completed", reply

    agent_calls = [call for call in scripted_model.calls if not is_summariser(call)]
    assert max(sent_tokens(call) for call in agent_calls) <= 600
    assert any("The user's name is Ada." in text for text in agent_calls[-1].text_of("system"))
    assert any(e["event_type"] == "summary" for e in served.events("a2a-context"))
    # MEMORY_SUMMARY_MODEL writes the summaries; the agent's model answers
    assert {call.body["model"] for call in scripted_model.calls if is_summariser(call)} == {"small-summariser"}
    assert {call.body["model"] for call in agent_calls} == {"scripted"}


@pytest.mark.redis
def test_shutdown_waits_for_a_summary_being_written(scripted_model: ScriptedModelServer) -> None:
    def handler(call: ModelCall) -> Reply:
        if is_summariser(call):
            return Reply(text="The user's name is Ada.", delay=1.0)
        return Reply(text=ANSWER)

    scripted_model.handler = handler
    with RedisServer() as redis:
        settings = Settings(
            agent_name="test-agent",
            tool_call_mode="native",
            model_api_url=scripted_model.url,
            model_name="scripted",
            memory_type="redis",
            memory_redis_url=redis.url,
            memory_context_limit=2,
            memory_rolling_summary=True,
        )
        with ThreadedServer(create_app(settings)) as server:
            served = Served(server)
            for turn in range(1, 5):
                chat(served, "s", prompt_for(turn))
            served.http.close()
            served.openai.close()
            started = time.monotonic()  # the summary is written after the answer: wait until its request is sent
            while not any(is_summariser(call) for call in scripted_model.calls) and time.monotonic() - started < 30:
                time.sleep(0.01)
            assert any(is_summariser(call) for call in scripted_model.calls)  # started, answer still pending

        async def stored_summary() -> str | None:
            memory = RedisMemory.from_url(redis.url, key_prefix=settings.redis_key_prefix)
            try:
                summary = (await memory.load_window("s", turns=1)).summary
                return None if summary is None else summary.text
            finally:
                await memory.close()

        assert asyncio.run(stored_summary()) == "The user's name is Ada."
