"""`DEBUG_MOCK_RESPONSES`: scripted replies replayed per request, race-free."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from pydantic_ai import Agent

from pais_core import MockToolCall, MockToolCalls

from .conftest import ServeFactory


def test_each_concurrent_request_replays_the_script_from_the_start(serve_pais: ServeFactory) -> None:
    agent = Agent(name="echo")

    @agent.tool_plain
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    replies = (MockToolCalls(tool_calls=[MockToolCall(name="shout", arguments={"text": "hey"})]), "done shouting")
    served = serve_pais(agent, debug_mock_responses=replies)

    def one(i: int) -> tuple[str, list[str]]:
        session = f"mock-{i}"
        response = served.http.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": f"go {i}"}]},
            headers={"X-Session-ID": session},
        )
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"], [e["event_type"] for e in served.events(session)]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(32)))

    for answer, kinds in results:
        assert answer == "done shouting"
        assert kinds == ["user_message", "tool_call", "tool_result", "agent_response"]
