"""`pais invoke`, `card`, `sessions`, `events` against a real `pais run` server, and their error messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pais_testing.cli import StartAgent, bare_env, pais, pais_run
from pais_testing.ports import free_port
from pais_testing.scripted_model import Reply, ScriptedModelServer, scripted


@pytest.fixture(scope="module")
def agent_url(demo_project: Path) -> Iterator[str]:
    process, url = pais_run("server.py", cwd=demo_project, env=bare_env(MODEL_NAME="test"))  # answers with tool results
    try:
        yield url
    finally:
        process.stop()


def test_invoke_stream_renders_tokens_and_progress(agent_url: str, tmp_path: Path) -> None:
    result = pais("invoke", agent_url, "-m", "Count the words", "--stream", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"count_words":1}\n'  # progress never leaks into the answer
    progress = [line for line in result.stderr.splitlines() if line.startswith("…")]
    assert progress == ["… step 1/5: calling tool count_words", "… step 1/5: tool count_words returned"]
    assert "session: session-" in result.stderr


def test_sessions_and_events_follow_a_conversation(agent_url: str, tmp_path: Path) -> None:
    first = pais("invoke", agent_url, "-m", "first question", cwd=tmp_path)
    session = first.stderr.split("session: ")[1].split()[0]
    follow_up = pais("invoke", agent_url, "-m", "second question", "--session", session, cwd=tmp_path)
    assert follow_up.returncode == 0, follow_up.stderr
    assert f"session: {session}" in follow_up.stderr

    listed = pais("sessions", agent_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert session in listed.stdout.splitlines()
    assert " sessions" in listed.stderr

    page = json.loads(pais("events", agent_url, "--session", session, "--json", cwd=tmp_path).stdout)
    assert page["agent"] == "demo"
    user_messages = [e["content"] for e in page["events"] if e["event_type"] == "user_message"]
    assert user_messages == ["first question", "second question"]
    assert {"event_id", "timestamp", "event_type", "content", "metadata"} <= set(page["events"][0])

    table = pais("events", agent_url, "--session", session, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "user_message" in table.stdout
    assert "second question" in table.stdout
    assert f"of {page['total']} events" in table.stderr


def test_sessions_paginate_with_a_cursor(agent_url: str, tmp_path: Path) -> None:
    for _ in range(2):
        pais("invoke", agent_url, "-m", "hello", cwd=tmp_path)
    page = json.loads(pais("sessions", agent_url, "--limit", "1", "--json", cwd=tmp_path).stdout)
    assert len(page["sessions"]) == 1
    assert page["next_cursor"]
    shown = pais("sessions", agent_url, "--limit", "1", cwd=tmp_path)
    assert f"--cursor {page['next_cursor']}" in shown.stderr
    second = json.loads(
        pais("sessions", agent_url, "--limit", "1", "--cursor", page["next_cursor"], "--json", cwd=tmp_path).stdout
    )
    assert second["sessions"] != page["sessions"]


def test_card_prints_the_agent_card(agent_url: str, tmp_path: Path) -> None:
    result = pais("card", f"{agent_url}/v1/", cwd=tmp_path)  # a trailing /v1 is accepted
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert card["name"] == "demo"
    assert any("count_words" in json.dumps(skill) for skill in card["skills"])


def test_unreachable_agent_is_one_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["invoke", url, "-m", "hi"], ["invoke", url, "-m", "hi", "--stream"], ["card", url]):
        result = pais(*command, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith("Error: cannot reach ")
        assert "is the agent running?" in result.stderr
        assert "Traceback" not in result.stderr


def test_http_errors_show_the_openai_error_message(tmp_path: Path, start_agent: StartAgent) -> None:
    with ScriptedModelServer(scripted(Reply(status=500))) as model:
        env = bare_env(MODEL_API_URL=model.url, MODEL_NAME="scripted", AGENT_NAME="failing")
        url = start_agent(cwd=tmp_path, env=env)
        for stream in ([], ["--stream"]):
            result = pais("invoke", url, "-m", "hi", *stream, cwd=tmp_path)
            assert result.returncode == 1
            assert result.stderr.startswith(f"Error: POST {url}/v1/chat/completions answered HTTP 502: ")
            assert "Traceback" not in result.stderr
    missing = pais("events", url, "--session", "", cwd=tmp_path)
    assert missing.returncode == 1
    assert "answered HTTP 400: query.session_id: " in missing.stderr
