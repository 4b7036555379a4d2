"""How the e2e suite talks to the agents, and what it reports at the end of the run.

Chats go through the official `openai` client; memory, cards and A2A JSON-RPC through httpx.
Every chat carries a fresh W3C `traceparent`, so the suite knows each request's trace id.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai

__all__ = ["ChatResult", "E2EClient", "E2EReport", "RpcError", "task_text", "user_message"]


@dataclass
class E2EReport:
    """Counts printed in the suite's closing summary."""

    agents: dict[str, dict[str, str]] = field(default_factory=dict[str, dict[str, str]])
    requests: int = 0
    delegations: int = 0
    trace_ids: list[str] = field(default_factory=list[str])

    def lines(self) -> list[str]:
        lines = []
        for target, agents in self.agents.items():
            lines.append(f"target {target}: {len(agents)} agents")
            lines.extend(f"  {name:<15} {url}" for name, url in agents.items())
        lines.append(f"requests: {self.requests}, delegations observed: {self.delegations}")
        shown = ", ".join(self.trace_ids[:8]) + (" ..." if len(self.trace_ids) > 8 else "")
        lines.append(f"trace ids ({len(self.trace_ids)}): {shown}")
        return lines


@dataclass(frozen=True)
class ChatResult:
    answer: str
    session_id: str
    trace_id: str
    body: dict[str, Any]


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"JSON-RPC error {error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class E2EClient:
    """One HTTP connection pool for the whole suite, counting every request into `report`."""

    def __init__(self, report: E2EReport, *, timeout: float = 180.0) -> None:
        self.report = report
        self.http = httpx.Client(timeout=timeout, event_hooks={"request": [self._count]})

    def _count(self, request: httpx.Request) -> None:
        self.report.requests += 1

    def close(self) -> None:
        self.http.close()

    def traceparent(self) -> tuple[str, str]:
        """A new sampled `traceparent` header value and its trace id."""
        trace_id = secrets.token_hex(16)
        self.report.trace_ids.append(trace_id)
        return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id

    def openai(self, base_url: str) -> openai.OpenAI:
        # openai types its client as httpx2's, but takes any client of httpx's interface; ours counts requests
        return openai.OpenAI(base_url=f"{base_url}/v1", api_key="e2e", http_client=self.http, max_retries=0)  # pyright: ignore[reportArgumentType]

    def chat(self, base_url: str, text: str, *, session_id: str | None = None) -> ChatResult:
        """One non-streaming chat turn; `session_id` continues a session (header `X-Session-ID`)."""
        traceparent, trace_id = self.traceparent()
        headers = {"traceparent": traceparent} | ({"X-Session-ID": session_id} if session_id else {})
        raw = self.openai(base_url).chat.completions.with_raw_response.create(
            model="orchestrator", messages=[{"role": "user", "content": text}], extra_headers=headers
        )
        completion = raw.parse()
        body = completion.to_dict()
        returned = str(raw.headers.get("x-session-id") or body.get("session_id") or "")
        return ChatResult(completion.choices[0].message.content or "", returned, trace_id, body)

    def stream(self, base_url: str, text: str, *, session_id: str) -> Iterator[dict[str, Any]]:
        """The chunks of a streamed chat turn, as dicts (PAIS extension fields included)."""
        traceparent, _ = self.traceparent()
        chunks = self.openai(base_url).chat.completions.create(
            model="orchestrator",
            messages=[{"role": "user", "content": text}],
            stream=True,
            extra_headers={"traceparent": traceparent, "X-Session-ID": session_id},
        )
        for chunk in chunks:
            yield chunk.to_dict()

    def get_json(self, url: str, **params: str) -> Any:
        response = self.http.get(url, params=params)
        response.raise_for_status()
        return response.json()

    def events(self, base_url: str, session_id: str) -> list[dict[str, Any]]:
        """Every memory event of a session, following the pagination cursor."""
        events: list[dict[str, Any]] = []
        params = {"session_id": session_id}
        while True:
            page = self.get_json(f"{base_url}/memory/events", **params)
            events.extend(page["events"])
            cursor = page.get("next_cursor")
            if not cursor:
                return events
            params = {"session_id": session_id, "cursor": cursor}

    def sessions(self, base_url: str) -> list[str]:
        """Every session id the agent's memory lists, following the pagination cursor."""
        sessions: list[str] = []
        params: dict[str, str] = {}
        while True:
            page = self.get_json(f"{base_url}/memory/sessions", **params)
            sessions.extend(page["sessions"])
            cursor = page.get("next_cursor")
            if not cursor:
                return sessions
            params = {"cursor": cursor}

    def rpc(self, base_url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One A2A JSON-RPC call at `POST /`; raises `RpcError` for an error answer."""
        request = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
        version = {"A2A-Version": "0.3" if "/" in method else "1.0"}  # the reply's shapes follow the name's family
        response = self.http.post(f"{base_url}/", json=request, headers=version)
        response.raise_for_status()
        answer = response.json()
        assert answer.get("id") == request["id"], answer
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]


def user_message(text: str) -> dict[str, Any]:
    """An A2A 0.3 user message."""
    return {"kind": "message", "role": "user", "messageId": uuid.uuid4().hex, "parts": [{"kind": "text", "text": text}]}


def task_text(task: dict[str, Any]) -> str:
    """All text an A2A task carries from the agent: artifacts, status message and agent history."""
    parts: list[dict[str, Any]] = []
    for artifact in task.get("artifacts") or []:
        parts.extend(artifact.get("parts", []))
    message = (task.get("status") or {}).get("message") or {}
    parts.extend(message.get("parts", []))
    for entry in task.get("history") or []:
        if entry.get("role") == "agent":
            parts.extend(entry.get("parts", []))
    return "\n".join(part.get("text", "") for part in parts if part.get("kind", "text") == "text")
