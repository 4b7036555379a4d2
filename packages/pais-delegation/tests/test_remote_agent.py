"""RemoteAgent against real sub-agent HTTP servers on loopback: cards, transports, headers, failures."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from pais_testing.fake_agents import FakeSubAgent
from pais_testing.ports import free_port

from pais_delegation import (
    DEPTH_HEADER,
    SESSION_HEADER,
    ContextMessage,
    DelegationError,
    HttpPool,
    RemoteAgent,
)


async def test_card_is_read_from_the_current_path_and_cached(chat_agent: FakeSubAgent) -> None:
    async with RemoteAgent(chat_agent.name, chat_agent.url) as remote:
        first = await remote.card()
        second = await remote.card()
    assert first is not None
    assert first.description == "Researches facts about planets."
    assert second is first
    assert chat_agent.card_requests == 1


async def test_card_falls_back_to_the_legacy_path() -> None:
    with FakeSubAgent("old", description="Legacy card only.", card="legacy") as agent:
        async with RemoteAgent("old", agent.url) as remote:
            card = await remote.card()
    assert card is not None
    assert card.description == "Legacy card only."
    assert agent.card_requests == 1


async def test_card_is_refreshed_after_its_ttl(chat_agent: FakeSubAgent) -> None:
    async with RemoteAgent(chat_agent.name, chat_agent.url, card_ttl=0.05) as remote:
        await remote.card()
        chat_agent.description = "Now also researches moons."
        assert (await remote.card()) is not None
        assert chat_agent.card_requests == 1
        await asyncio.sleep(0.1)
        card = await remote.card()
    assert card is not None
    assert card.description == "Now also researches moons."
    assert chat_agent.card_requests == 2


async def test_stale_card_is_kept_while_the_agent_is_down() -> None:
    agent = FakeSubAgent("flaky", description="Sometimes there.")
    with agent:
        remote = RemoteAgent("flaky", agent.url, card_ttl=0.01, card_retries=0)
        assert (await remote.card()) is not None
    await asyncio.sleep(0.02)
    card = await remote.card()
    await remote.aclose()
    assert card is not None
    assert card.description == "Sometimes there."


async def test_unreachable_card_gives_none_and_fetch_card_says_why() -> None:
    remote = RemoteAgent("ghost", f"http://127.0.0.1:{free_port()}", card_retries=0)
    assert await remote.card() is None
    with pytest.raises(DelegationError, match="connection refused") as info:
        await remote.fetch_card()
    assert info.value.reason == "unreachable"
    await remote.aclose()


async def test_chat_transport_forwards_context_session_depth_and_trace(chat_agent: FakeSubAgent) -> None:
    tracer = TracerProvider().get_tracer("test")
    context = [ContextMessage("user", "We are planning a trip to Mars."), ContextMessage("assistant", "Noted.")]
    async with RemoteAgent(chat_agent.name, chat_agent.url, api_key="sk-sub") as remote:
        with tracer.start_as_current_span("parent") as parent:
            result = await remote.send("Find the distance", context=context, session_id="sess-1", depth=1)
    assert result.transport == "chat"
    assert result.text == (
        "worker-a did 'Find the distance' knowing [user: We are planning a trip to Mars. | assistant: Noted.]"
    )
    assert result.session_id == "sess-1/worker-a"
    (call,) = chat_agent.calls
    assert call.headers[SESSION_HEADER.lower()] == "sess-1/worker-a"
    assert call.headers[DEPTH_HEADER.lower()] == "2"
    assert call.headers["authorization"] == "Bearer sk-sub"
    incoming = propagate.extract(call.headers)
    from opentelemetry import trace

    assert trace.get_current_span(incoming).get_span_context().trace_id == parent.get_span_context().trace_id


async def test_without_a_session_no_session_header_is_sent(chat_agent: FakeSubAgent) -> None:
    async with RemoteAgent(chat_agent.name, chat_agent.url) as remote:
        result = await remote.send("hello")
    assert result.session_id is None
    assert SESSION_HEADER.lower() not in chat_agent.calls[0].headers
    assert chat_agent.calls[0].headers[DEPTH_HEADER.lower()] == "1"


@pytest.mark.parametrize("version", ["0.3", "1.0"])
async def test_a2a_is_used_when_the_card_offers_it(version: str) -> None:
    with FakeSubAgent("poet", a2a=version) as agent:  # type: ignore[arg-type]
        async with RemoteAgent("poet", agent.url) as remote:
            result = await remote.send(
                "Write a haiku", context=[ContextMessage("user", "Theme: autumn")], session_id="s9"
            )
    assert result.transport == "a2a"
    assert result.text == "poet did 'Write a haiku' knowing [user: Theme: autumn]"
    (call,) = agent.calls
    assert call.method == ("message/send" if version == "0.3" else "SendMessage")
    message = call.body["params"]["message"]
    assert message["contextId"] == "s9/poet"
    assert call.headers[SESSION_HEADER.lower()] == "s9/poet"
    assert result.task_id in agent.tasks


async def test_a2a_task_returned_unfinished_is_polled_until_done(a2a_agent: FakeSubAgent) -> None:
    a2a_agent.working_polls = 2
    async with RemoteAgent(a2a_agent.name, a2a_agent.url) as remote:
        result = await remote.send("slow haiku")
    assert result.text.startswith("worker-b did 'slow haiku'")
    assert [c.method for c in a2a_agent.calls] == ["message/send", "tasks/get", "tasks/get", "tasks/get"]


async def test_a2a_task_that_fails_is_a_delegation_error(a2a_agent: FakeSubAgent) -> None:
    a2a_agent.task_state = "failed"
    async with RemoteAgent(a2a_agent.name, a2a_agent.url) as remote:
        with pytest.raises(DelegationError, match=r"ended failed: worker-b did") as info:
            await remote.send("doomed")
    assert info.value.reason == "task_failed"


async def test_agent_without_card_is_called_over_chat() -> None:
    with FakeSubAgent("plain", card="none") as agent:
        async with RemoteAgent("plain", agent.url, card_retries=0) as remote:
            result = await remote.send("hi")
    assert result.transport == "chat"
    assert result.text.startswith("plain did 'hi'")


async def test_down_agent_is_unreachable_quickly() -> None:
    remote = RemoteAgent("down", f"http://127.0.0.1:{free_port()}", card_retries=0)
    with pytest.raises(DelegationError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1/chat/completions") as info:
        await remote.send("anything")
    assert info.value.reason == "unreachable"
    await remote.aclose()


@pytest.mark.parametrize("fixture", ["chat_agent", "a2a_agent"])
async def test_slow_agent_times_out(fixture: str, request: pytest.FixtureRequest) -> None:
    agent: FakeSubAgent = request.getfixturevalue(fixture)
    async with RemoteAgent(agent.name, agent.url, timeout=0.3) as remote:
        await remote.card()
        agent.delay = 1.0
        with pytest.raises(DelegationError, match=r"timed out after 0\.3s") as info:
            await remote.send("take your time")
    assert info.value.reason == "timeout"


@pytest.mark.parametrize("fixture", ["chat_agent", "a2a_agent"])
async def test_http_error_carries_the_agents_message(fixture: str, request: pytest.FixtureRequest) -> None:
    agent: FakeSubAgent = request.getfixturevalue(fixture)
    async with RemoteAgent(agent.name, agent.url) as remote:
        await remote.card()
        agent.status = 503
        with pytest.raises(DelegationError, match="HTTP 503: sub-agent exploded") as info:
            await remote.send("x")
    assert info.value.reason == "http_status"
    assert len(agent.calls) == 1  # a POST that may have run is never re-sent


@pytest.mark.parametrize("fixture", ["chat_agent", "a2a_agent"])
async def test_garbage_body_is_a_bad_response(fixture: str, request: pytest.FixtureRequest) -> None:
    agent: FakeSubAgent = request.getfixturevalue(fixture)
    async with RemoteAgent(agent.name, agent.url) as remote:
        await remote.card()
        agent.garbage = True
        with pytest.raises(DelegationError, match="definitely not json") as info:
            await remote.send("x")
    assert info.value.reason == "bad_response"


async def test_agents_of_one_pool_share_keep_alive_connections(chat_agent: FakeSubAgent) -> None:
    pool = HttpPool()
    first = RemoteAgent("worker-a", chat_agent.url, pool=pool)
    second = RemoteAgent("worker-a-again", chat_agent.url, pool=pool)
    await first.send("one")
    await second.send("two")
    await first.send("three")
    connections = {r.client_port for r in chat_agent.calls}
    assert len(chat_agent.calls) == 3
    assert len(connections) == 1, "all calls should reuse one keep-alive connection"
    await pool.aclose()
