"""Agent card (both paths, proxy-aware URL), model list, health and readiness."""

from __future__ import annotations

import pytest
from pydantic_ai import Agent

from .conftest import Served, ServeFactory


@pytest.mark.parametrize("path", ["/.well-known/agent-card.json", "/.well-known/agent.json"])
def test_card_at_both_paths(pais: Served, path: str) -> None:
    card = pais.http.get(path).json()
    assert card["name"] == "test-agent"
    assert card["description"] == "AI Agent"
    assert card["url"] == f"{pais.url}/"
    assert card["capabilities"]["streaming"] is True
    assert card["preferredTransport"] == "JSONRPC"


def test_card_url_behind_a_proxy(pais: Served) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "agents.example.com", "X-Forwarded-Prefix": "/a1"}
    card = pais.http.get("/.well-known/agent-card.json", headers=headers).json()
    assert card["url"] == "https://agents.example.com/a1/"


def test_agent_url_setting_wins(serve_pais: ServeFactory) -> None:
    served = serve_pais(agent_url="https://public.example.com/x/", agent_description="Finds things")
    card = served.http.get("/.well-known/agent-card.json").json()
    assert card["url"] == "https://public.example.com/x/"
    assert card["description"] == "Finds things"


def test_card_lists_the_agents_tools_as_skills(serve_pais: ServeFactory) -> None:
    agent = Agent(name="calc")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    card = serve_pais(agent).http.get("/.well-known/agent-card.json").json()
    assert [(s["id"], s["description"]) for s in card["skills"]] == [("add", "Add two integers.")]


def test_an_agent_without_tools_still_offers_one_skill(serve_pais: ServeFactory) -> None:
    card = serve_pais(agent_description="Answers questions").http.get("/.well-known/agent-card.json").json()
    assert card["skills"] == [
        {"id": "chat", "name": "test-agent", "description": "Answers questions", "tags": ["chat"]}
    ]


def test_health_and_ready_with_offline_model(serve_pais: ServeFactory) -> None:
    served = serve_pais()
    assert served.http.get("/health").json() == {"status": "ok"}
    ready = served.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"memory": {"ok": True}}


def test_memory_endpoints_can_be_switched_off(serve_pais: ServeFactory) -> None:
    served = serve_pais(memory_endpoints_enabled=False)
    assert served.http.get("/memory/sessions").status_code == 404


def test_sessions_are_paginated(serve_pais: ServeFactory) -> None:
    served = serve_pais()
    for i in range(5):
        body = {"messages": [{"role": "user", "content": "hi"}], "session_id": f"s{i}"}
        assert served.http.post("/v1/chat/completions", json=body).status_code == 200
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = served.http.get("/memory/sessions", params=params).json()
        assert page["agent"] == "test-agent"
        assert page["total"] == 5
        seen += page["sessions"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"s{i}" for i in range(5)]


def test_ready_details_show_the_tool_call_mode(serve_pais: ServeFactory, scripted_model) -> None:  # type: ignore[no-untyped-def]
    served = serve_pais(model_api_url=scripted_model.url, model_name="scripted", tool_call_mode="string")
    ready = served.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["details"]["tool_mode"]["mode"] == "string"
