"""`pais run`: serves a generated project with no environment, reloads on edits, and rejects bad targets clearly."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
from pais_testing.cli import StartAgent, bare_env, pais

TOOL_RESULTS = bare_env(MODEL_NAME="test")
"""Pydantic AI's plain TestModel: it calls every tool and answers with their results as JSON."""


def ask(url: str, message: str = "How many words?") -> str:
    result = pais("invoke", url, "-m", message, cwd=Path.cwd())
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_init_run_invoke_with_no_environment(demo_project: Path, start_agent: StartAgent) -> None:
    url = start_agent("server.py", cwd=demo_project, env=bare_env())
    result = pais("invoke", url, "-m", "How many words are in 'hello brave new world'?", cwd=demo_project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello from demo! I am answering with Pydantic AI's offline test model")
    assert "session: " in result.stderr
    card = httpx.get(f"{url}/.well-known/agent-card.json").json()
    assert card["name"] == "demo"  # AGENT_NAME defaults to the agent's own name


def test_reload_serves_the_edited_agent(demo_project: Path, tmp_path: Path, start_agent: StartAgent) -> None:
    project = tmp_path / "demo"
    shutil.copytree(demo_project, project)
    url = start_agent("server.py", "--reload", cwd=project, env=TOOL_RESULTS)
    assert ask(url) == '{"count_words":1}'

    server = project / "server.py"
    server.write_text(server.read_text().replace("return len(text.split())", "return len(text.split()) + 41"))
    deadline = time.monotonic() + 90
    answer = ""
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(
                f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=30
            ).json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError):
            answer = ""  # the worker is restarting
        if answer == '{"count_words":42}':
            break
        time.sleep(0.3)
    assert answer == '{"count_words":42}'


def test_run_without_target_serves_the_environment_agent_with_an_env_file(
    tmp_path: Path, start_agent: StartAgent
) -> None:
    (tmp_path / "dev.env").write_text("AGENT_NAME=from-env-file\nAGENT_DESCRIPTION='Reads its settings from a file'\n")
    url = start_agent("--env-file", "dev.env", cwd=tmp_path)
    card = httpx.get(f"{url}/.well-known/agent-card.json").json()
    assert (card["name"], card["description"]) == ("from-env-file", "Reads its settings from a file")
    assert ask(url)  # the offline TestModel answers


def test_run_a_factory_in_a_module(tmp_path: Path, start_agent: StartAgent) -> None:
    package = tmp_path / "agents"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "support.py").write_text(
        "from pydantic_ai import Agent\n\n\n"
        "def create_agent() -> Agent:\n"
        "    agent = Agent(defer_model_check=True)\n\n"
        "    @agent.tool_plain\n"
        "    def answer() -> str:\n"
        "        return 'made by a factory'\n\n"
        "    return agent\n"
    )
    url = start_agent("agents.support:create_agent", cwd=tmp_path, env=TOOL_RESULTS)
    assert ask(url) == '{"answer":"made by a factory"}'
    assert httpx.get(f"{url}/.well-known/agent-card.json").json()["name"] == "support"  # the module's stem


BAD_TARGETS = {
    "empty.py": ("x = 1\n", "empty.py", "Error: no Pydantic AI agent found in empty.py"),
    "two.py": (
        "from pydantic_ai import Agent\n\n"
        "agent = Agent(defer_model_check=True)\nhelper = Agent(defer_model_check=True)\n",
        "two.py",
        "Error: two.py defines 2 agents (agent, helper): choose one with pais run two.py:agent",
    ),
    "broken.py": ("def f(:\n    pass\n", "broken.py",
                  "Error: cannot import broken.py: syntax error (broken.py, line 1)"),
    "fails.py": (
        "import json\n\nraise RuntimeError('no API key')\n",
        "fails.py",
        "Error: cannot import fails.py: RuntimeError: no API key (fails.py, line 3)",
    ),
    "attr.py": ("from pydantic_ai import Agent\n\nagent = Agent(defer_model_check=True)\n", "attr.py:missing",
                "Error: attr.py has no attribute 'missing' (agents defined there: agent)"),
    "needs_args.py": (
        "def make(model):\n    return model\n",
        "needs_args.py:make",
        "Error: needs_args.py:make needs arguments: a factory must be callable with none",
    ),
    "not_agent.py": ("def make():\n    return 42\n", "not_agent.py:make",
                     "Error: not_agent.py:make() returned a int, not a Pydantic AI Agent"),
    "missing": ("", "nowhere.py", "Error: nowhere.py not found"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_TARGETS)
def test_bad_targets_fail_with_one_clear_line(tmp_path: Path, case: str) -> None:
    source, target, expected = BAD_TARGETS[case]
    if source:
        (tmp_path / case).write_text(source)
    result = pais("run", target, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(expected), result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
