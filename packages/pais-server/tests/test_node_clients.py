"""Real Node clients against PAIS: the `openai` npm package and the Vercel AI SDK (`@ai-sdk/open-responses`).

tests/clients/node/clients.mjs runs one scenario per call and prints what the client saw as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pais_testing.scripted_model import ScriptedModelServer, scripted, tool_call

from .conftest import Served

NODE_PROJECT = Path(__file__).resolve().parents[3] / "tests" / "clients" / "node"


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` binary, with the project's pinned packages installed from its lock (`npm ci`, once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Node client tests")
    if not (NODE_PROJECT / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT, check=True, timeout=300)
    return node


def _tool_results(scripted_model: ScriptedModelServer) -> list[str]:
    """The tool results the model saw in its last call."""
    return [m["content"] for m in scripted_model.calls[-1].messages if m["role"] == "tool"]


def _run(node: str, served: Served, scenario: str) -> dict[str, Any]:
    done = subprocess.run(
        [node, "clients.mjs", scenario, f"{served.url}/v1"],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openai_responses_create(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("Paris.")

    seen = _run(node, pais, "openai-responses")

    assert (seen["status"], seen["text"]) == ("completed", "Paris.")
    assert seen["usage"]["output_tokens"] == len("Paris.") // 4
    assert scripted_model.calls[-1].last_user_text == "Capital of France?"
    assert any("Be brief." in text for text in scripted_model.calls[-1].text_of("system"))


def test_openai_responses_streamed(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    answer = "The quick brown fox jumps over the lazy dog"
    scripted_model.handler = scripted(answer)

    seen = _run(node, pais, "openai-responses-stream")

    assert seen["types"][0] == "response.created"
    assert seen["types"][-1] == "response.completed"
    assert seen["types"].count("response.output_text.delta") > 1
    assert seen["text"] == seen["completed"] == answer


def test_openai_responses_function_tool_runs_in_the_client(
    node: str, pais: Served, scripted_model: ScriptedModelServer
) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    seen = _run(node, pais, "openai-responses-tool")

    assert seen == {"ran": [{"id": "42"}], "text": "Order 42 ships on Monday."}
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]


def test_openai_chat_client_tool(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    seen = _run(node, pais, "openai-chat-tool")

    assert seen == {"ran": [{"id": "42"}], "finishes": ["tool_calls", "stop"], "text": "Order 42 ships on Monday."}
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]


def test_ai_sdk_generate_text(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted("Paris.")

    seen = _run(node, pais, "ai-sdk-text")

    assert (seen["text"], seen["finishReason"]) == ("Paris.", "stop")
    assert seen["usage"]["outputTokens"] == len("Paris.") // 4


def test_ai_sdk_stream_text(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    answer = "The quick brown fox jumps over the lazy dog"
    scripted_model.handler = scripted(answer)

    seen = _run(node, pais, "ai-sdk-stream")

    assert len(seen["parts"]) > 1
    assert "".join(seen["parts"]) == seen["text"] == answer
    assert seen["finishReason"] == "stop"


def test_ai_sdk_tool_runs_in_the_client(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    seen = _run(node, pais, "ai-sdk-tool")

    assert seen == {"ran": [{"id": "42"}], "text": "Order 42 ships on Monday.", "steps": ["tool-calls", "stop"]}
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]


def test_ai_sdk_structured_output(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted('{"name": "Paris", "population": 2100000}')

    seen = _run(node, pais, "ai-sdk-object")

    assert seen["output"] == {"name": "Paris", "population": 2100000}
    assert scripted_model.calls[-1].body["response_format"]["type"] == "json_schema"


def test_ai_sdk_streamed_tool_runs_in_the_client(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    seen = _run(node, pais, "ai-sdk-stream-tool")

    assert seen == {"ran": [{"id": "42"}], "text": "Order 42 ships on Monday.", "steps": ["tool-calls", "stop"]}
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]


def test_openai_chat_run_tools_streamed(node: str, pais: Served, scripted_model: ScriptedModelServer) -> None:
    scripted_model.handler = scripted(tool_call("lookup_order", id="42"), "Order 42 ships on Monday.")

    seen = _run(node, pais, "openai-chat-run-tools-stream")

    answer = "Order 42 ships on Monday."
    assert seen == {"ran": [{"id": "42"}], "text": answer, "streamedText": answer}
    assert _tool_results(scripted_model) == ["order 42 shipped Monday"]
