"""What KAOS's UI and CLI send to an agent and how they read the answers, replayed over httpx.

Written from the facts of their sources (kaos-ui `src/lib/agent-client.ts`, `src/lib/k8s/a2a.ts`,
`src/components/agent/A2ASendMessage.tsx`; the `kaos agent invoke | a2a | tools` commands): no
`A2A-Version` header, 1.0 method names with 0.3-like params, parts tagged `type`, progress parsed
from `delta.content`, the session id read from the chunks.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["KaosA2A", "KaosChatStream", "kaos_send_params", "stream_chat"]

_ids = itertools.count(1)


@dataclass
class KaosChatStream:
    """What the UI's `streamAgentChat` hands its callbacks."""

    chunks: list[str] = field(default_factory=list[str])
    progress: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    session_id: str | None = None
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def stream_chat(http: httpx.Client, messages: list[dict[str, str]], *, session_id: str | None = None) -> KaosChatStream:
    """POST /v1/chat/completions as the UI streams it, parsing each `data:` line the way the UI does."""
    body: dict[str, Any] = {"model": "default", "messages": messages, "stream": True, "temperature": 0.7}
    if session_id:
        body["session_id"] = session_id
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", "X-Requested-With": "XMLHttpRequest"}
    out = KaosChatStream()
    with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        for raw in response.iter_lines():
            line = raw.strip()
            if not line or line.startswith(":") or not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                out.done = True
                break
            parsed = json.loads(data)
            if parsed.get("session_id"):
                out.session_id = parsed["session_id"]
            choices = parsed.get("choices") or [{}]
            content = choices[0].get("delta", {}).get("content")
            if content in (None, ""):
                continue
            if content.strip().startswith("{"):
                try:
                    block = json.loads(content.strip())
                except ValueError:
                    block = None
                if isinstance(block, dict) and block.get("type") == "progress":
                    out.progress.append(block)
                    continue
            out.chunks.append(content)
    return out


def kaos_send_params(
    text: str,
    *,
    context_id: str | None = None,
    mode: str = "interactive",
    budgets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The params of the UI's `SendMessage` (`A2ASendMessage.tsx`); the CLI sends the same without `configuration`."""
    params: dict[str, Any] = {
        "message": {"role": "user", "parts": [{"type": "text", "text": text}]},
        "configuration": {"mode": mode, **({"budgets": budgets} if budgets is not None else {})},
    }
    if context_id:
        params["contextId"] = context_id
    return params


class KaosA2A:
    """The UI's `sendA2AJsonRpc` (and the CLI's `_port_forward_and_call`): JSON-RPC at `POST /`, no version header."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The whole JSON-RPC answer."""
        rpc_id = f"ui-{next(_ids)}"
        response = self.http.post("/", json={"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["id"] == rpc_id
        return answer

    def result(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = self.call(method, params)
        assert "error" not in answer, answer
        return answer["result"]

    def send(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.result("SendMessage", params)

    def get(self, task_id: str) -> dict[str, Any]:
        return self.result("GetTask", {"id": task_id})

    def cancel(self, task_id: str) -> dict[str, Any]:
        return self.result("CancelTask", {"id": task_id})

    def list(self) -> dict[str, Any]:
        return self.result("ListTasks", {})

    def card(self) -> dict[str, Any]:
        response = self.http.get("/.well-known/agent.json")
        assert response.status_code == 200, response.text
        return response.json()

    @staticmethod
    def cli_lines(task: dict[str, Any]) -> list[str]:
        """What `kaos agent a2a send|get|cancel` prints for a task (`_format_task`)."""
        lines = [f"Task ID: {task.get('id', 'unknown')}", f"State:   {task.get('status', {}).get('state', 'unknown')}"]
        if message := task.get("status", {}).get("message", ""):
            lines.append(f"Message: {message}")
        if output := task.get("output"):
            lines.append(f"Output: {output}")
        for artifact in task.get("artifacts", []):
            lines.extend(part.get("text", "") for part in artifact.get("parts", []) if part.get("type") == "text")
        if history := task.get("history", []):
            lines.append(f"History ({len(history)} messages)")
        return lines
