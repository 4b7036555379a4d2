"""`python -m pais_server`: the container's command."""

from __future__ import annotations

import subprocess
import sys

import httpx
from pais_testing.ports import free_port, wait_for_http
from pais_testing.process import pais_server_process


def test_serves_the_environment_agent_on_agent_port() -> None:
    port = free_port()
    env = {"AGENT_NAME": "env-agent", "DEBUG_MOCK_RESPONSES": '["hello from the environment"]'}
    with pais_server_process(env, port=port) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/ready", timeout=30)
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
        )
        assert response.json()["choices"][0]["message"]["content"] == "hello from the environment"
        assert response.json()["model"] == "env-agent"
    # SIGTERM ends it gracefully (uvicorn re-raises the signal after a clean shutdown)
    assert proc.proc is not None
    assert proc.proc.returncode in (0, -15), proc.output()
    assert "Application shutdown complete" in proc.output()


def test_invalid_configuration_stops_startup_naming_the_variable() -> None:
    env = {"AGENT_NAME": "bad", "TOOL_CALL_MODE": "foo", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "pais_server"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "pais-server: invalid configuration: TOOL_CALL_MODE: expected one of auto, native, string, got 'foo'"
    )
