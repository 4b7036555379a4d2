"""`python -m pais_testing.e2e_demo`: the local multi-agent demo (scripts/demo-multi-agent.sh).

Starts the e2e system on loopback (redis-server, the scripted orchestrator model, SmolLM2 when
installed, orchestrator x2, worker-a, worker-b), streams one delegated chat printing its progress
and answer, reads the conversation back from the other orchestrator replica, and stops it all.
"""

from __future__ import annotations

import sys
import uuid

from .e2e_client import E2EClient, E2EReport
from .e2e_stack import LocalStack

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run the demo; `argv` may hold the question (default: one for worker-a)."""
    question = " ".join(argv) or "@worker-a What is 6 times 7?"
    report = E2EReport()
    client = E2EClient(report)
    print("starting redis, model servers, orchestrator x2, worker-a, worker-b ...", flush=True)
    with LocalStack() as target:
        for name, url in target.agents.items():
            print(f"  {name:<15} {url}")
        first, second = target.orchestrators
        session = f"demo-{uuid.uuid4().hex[:12]}"
        print(f"\nuser> {question}\n")
        for chunk in client.stream(first, question, session_id=session):
            progress = chunk.get("progress")
            if progress:
                where = progress.get("target") or progress.get("tool") or ""
                print(f"  [{progress['type']}] step {progress['step']}/{progress['max_steps']} {where}", flush=True)
            for choice in chunk.get("choices", []):
                content = choice["delta"].get("content")
                if content:
                    print(content, end="", flush=True)
        print(f"\n\nmemory of session {session}, read from the other replica ({second}):")
        for event in client.events(second, session):
            print(f"  {event['event_type']:<20} {str(event['content'])[:80]}")
    client.close()
    print(f"\nstopped everything; {report.requests} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
