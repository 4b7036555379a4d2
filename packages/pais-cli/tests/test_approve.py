"""`pais approvals` and `pais approve` against a real `pais run` server whose tool needs approval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pais_testing.cli import bare_env, pais, pais_run


@pytest.fixture(scope="module")
def agent_url(demo_project: Path) -> Iterator[str]:
    # the test model calls every tool once: count_words, which now waits for a person
    env = bare_env(MODEL_NAME="test", TOOLS_REQUIRE_APPROVAL="count_words")
    process, url = pais_run("server.py", cwd=demo_project, env=env)
    try:
        yield url
    finally:
        process.stop()


def _pause(url: str, cwd: Path) -> tuple[str, str]:
    """Start a turn that pauses on count_words; returns its session and the call's id."""
    result = pais("invoke", url, "-m", "Count the words", cwd=cwd)
    assert result.returncode == 0, result.stderr
    session = result.stderr.split("session: ")[1].split()[0]
    call_id = result.stderr.split("awaiting approval: ")[1].split()[0]
    assert f"pais approve {url} {call_id}" in result.stderr
    return session, call_id


def test_approvals_lists_and_approve_resumes_the_run(agent_url: str, tmp_path: Path) -> None:
    session, call_id = _pause(agent_url, tmp_path)

    listed = pais("approvals", agent_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(call_id)]
    assert "count_words" in row
    assert session in row
    assert row.rstrip().endswith("Z")  # the deadline, not yet passed
    page = json.loads(pais("approvals", agent_url, "--session", session, "--json", cwd=tmp_path).stdout)
    assert [(a["id"], a["tool"]) for a in page["approvals"]] == [(call_id, "count_words")]

    approved = pais("approve", agent_url, call_id, cwd=tmp_path)  # finds the session itself

    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == '{"count_words":1}\n'  # the tool ran: the test model reports its result
    assert f"{call_id} (count_words) approved in session {session}" in approved.stderr
    again = pais("approve", agent_url, call_id, "--session", session, cwd=tmp_path)
    assert again.returncode == 1
    assert "answered HTTP 409" in again.stderr
    assert "decided already" in again.stderr
    assert call_id not in pais("approvals", agent_url, cwd=tmp_path).stdout


def test_approve_deny_with_a_reason_without_waiting(agent_url: str, tmp_path: Path) -> None:
    session, call_id = _pause(agent_url, tmp_path)

    denied = pais(
        "approve",
        agent_url,
        call_id,
        "--deny",
        "--reason",
        "not now",
        "--session",
        session,
        "--wait",
        "0",
        cwd=tmp_path,
    )

    assert denied.returncode == 0, denied.stderr
    assert f"{call_id} (count_words) denied in session {session}" in denied.stderr
    assert f"pais events {agent_url} --session {session}" in denied.stderr
    assert denied.stdout == ""


def test_approve_asks_for_the_session_when_the_id_awaits_in_several(agent_url: str, tmp_path: Path) -> None:
    paused = [_pause(agent_url, tmp_path) for _ in range(2)]
    [call_id] = {call_id for _, call_id in paused}  # the test model names its calls the same in every session

    ambiguous = pais("approve", agent_url, call_id, cwd=tmp_path)

    assert ambiguous.returncode == 1
    assert "name one with --session" in ambiguous.stderr
    for session, _ in paused:
        assert pais("approve", agent_url, call_id, "--session", session, cwd=tmp_path).returncode == 0


def test_approve_an_unknown_call_is_one_clear_error(agent_url: str, tmp_path: Path) -> None:
    result = pais("approve", agent_url, "call_nobody_made", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no session of ")
    assert "pais approvals" in result.stderr
    named = pais("approve", agent_url, "call_nobody_made", "--session", "session-x", cwd=tmp_path)
    assert named.returncode == 1
    assert "answered HTTP 404" in named.stderr
    assert "Traceback" not in result.stderr + named.stderr
