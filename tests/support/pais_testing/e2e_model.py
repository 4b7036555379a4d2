"""The scripted orchestrator model of the e2e suite, shared by the local and the kind targets.

The orchestrator's model decides from the latest user message alone, so every replica and every
concurrent conversation behaves the same:

- `@worker-a <task>` / `@worker-b <task>`: call `delegate_to_worker_a` / `_b` with the task;
- once a tool result is in the conversation: answer `Delegated result: <tool result>`;
- a message containing `[slow]`: answer only after `SLOW_SECONDS` (for A2A cancel);
- anything else: `orchestrator heard: <message>`.

worker-a answers from `DEBUG_MOCK_RESPONSES` (`WORKER_A_REPLY`, set in
kind/overlays/e2e/worker-a-mock-responses.yaml); worker-b runs on the real SmolLM2 model.
"""

from __future__ import annotations

import re

from .scripted_model import ModelCall, Reply, tool_call

__all__ = [
    "ORCHESTRATOR_MODEL",
    "RESULT_PREFIX",
    "SLOW_MARKER",
    "SLOW_SECONDS",
    "WORKER_A_REPLY",
    "orchestrator_model",
]

ORCHESTRATOR_MODEL = "e2e-orchestrator"
WORKER_A_REPLY = "WORKER-A-RESULT: 6 x 7 = 42"
RESULT_PREFIX = "Delegated result:"
SLOW_MARKER = "[slow]"
SLOW_SECONDS = 20.0

_DELEGATE = re.compile(r"@(worker-[ab])\s+(.+)", re.DOTALL)


def orchestrator_model(call: ModelCall) -> Reply:
    """The orchestrator's next reply for `call` (a `scripted_model` handler)."""
    last_user = max((i for i, m in enumerate(call.messages) if m.get("role") == "user"), default=-1)
    results = [m for m in call.messages[last_user + 1 :] if m.get("role") == "tool"]
    if results:
        content = results[-1].get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return Reply(text=f"{RESULT_PREFIX} {content}")
    text = call.last_user_text
    if SLOW_MARKER in text:
        return Reply(text="slow work finished", delay=SLOW_SECONDS)
    match = _DELEGATE.search(text)
    if match:
        target, task = match.groups()
        return tool_call(f"delegate_to_{target.replace('-', '_')}", task=task.strip())
    return Reply(text=f"orchestrator heard: {text}")
