"""Real PAIS agents as processes on loopback, with the HTTP calls multi-agent tests make against them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import ExitStack
from types import TracebackType
from typing import Any

import httpx

from .ports import free_port, wait_for_http
from .process import ManagedProcess, pais_server_process

__all__ = ["AgentProcess", "AgentProcesses", "a2a_user_message", "a2a_version_header"]


def a2a_version_header(method: str) -> dict[str, str]:
    """The `A2A-Version` header matching a method name's family (`SendMessage`: 1.0, `message/send`: 0.3).

    The header, not the name, picks the reply's shapes; without it PAIS answers in the KAOS dialect.
    """
    return {"A2A-Version": "0.3" if "/" in method else "1.0"}


def a2a_user_message(text: str, context_id: str | None = None) -> dict[str, Any]:
    """An A2A 0.3 user message."""
    message: dict[str, Any] = {
        "kind": "message",
        "role": "user",
        "messageId": uuid.uuid4().hex,
        "parts": [{"kind": "text", "text": text}],
    }
    if context_id:
        message["contextId"] = context_id
    return message


class AgentProcess:
    """`python -m pais_server` for one agent; started by `AgentProcesses.start`."""

    def __init__(self, name: str, env: Mapping[str, str], *, port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: ManagedProcess = pais_server_process({**env, "AGENT_NAME": name}, port=self.port)
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def start(self, *, timeout: float = 60.0) -> AgentProcess:
        self.process.start()
        try:
            wait_for_http(f"{self.url}/health", timeout=timeout)
        except TimeoutError:
            self.process.stop()
            raise RuntimeError(f"{self.name} did not start:\n{self.process.output()}") from None
        return self

    def stop(self) -> None:
        self.http.close()
        self.process.stop()

    def chat(self, text: str, *, session_id: str | None = None) -> httpx.Response:
        headers = {"X-Session-ID": session_id} if session_id else {}
        return self.http.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]}, headers=headers
        )

    def answer(self, text: str, *, session_id: str | None = None) -> str:
        response = self.chat(text, session_id=session_id)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]

    def events(self, session_id: str) -> list[dict[str, Any]]:
        response = self.http.get("/memory/events", params={"session_id": session_id, "limit": 1000})
        response.raise_for_status()
        return response.json()["events"]

    def sessions(self) -> list[str]:
        response = self.http.get("/memory/sessions", params={"limit": 1000})
        response.raise_for_status()
        return response.json()["sessions"]

    def rpc(self, method: str, params: dict[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One A2A JSON-RPC call (with the method family's `A2A-Version` unless `headers`); the whole answer."""
        response = self.http.post(
            "/",
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            headers=a2a_version_header(method) if headers is None else headers,
        )
        response.raise_for_status()
        return response.json()


class AgentProcesses:
    """Agents started together and stopped together; use as a context manager."""

    def __init__(self) -> None:
        self._stack = ExitStack()

    def start(self, name: str, env: Mapping[str, str], *, port: int | None = None) -> AgentProcess:
        agent = AgentProcess(name, env, port=port)
        self._stack.callback(agent.stop)
        return agent.start()

    def __enter__(self) -> AgentProcesses:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()
