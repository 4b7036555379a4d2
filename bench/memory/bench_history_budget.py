"""Chat throughput with MEMORY_SHORT_TERM_TOKEN_BUDGET and MEMORY_ROLLING_SUMMARY on, as a ratio to off.

Run: `python bench/memory/bench_history_budget.py [--seconds 5] [--rounds 2]` (needs wrk). Starts two
`python -m pais_server` processes with local memory and the instant DEBUG_MOCK_RESPONSES model
(which also writes the summaries): one with today's history (MEMORY_CONTEXT_LIMIT=6), one that also
has a 1,000-token budget and rolling summaries. 16 wrk clients rotate over 100 sessions with turns of
about 100 tokens, so each session passes the budget and gets summarised several times per run.
Rounds alternate off/on; the medians are compared in the same run.

Prints a table and merges the results into bench/results/memory.json under "history_budget".
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "bench")]
from _harness import Load, Started, median, rotating_sessions, start_mock_pais, wrk  # noqa: E402
from _results import merge_results  # noqa: E402

SESSIONS, CONNECTIONS = 100, 16
ANSWER = "Noted. " + "I have written that down together with the rest of our notes for later reference. " * 2
PROMPT = "Here is one more detail for the record about the migration project and its many moving parts. " * 2
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": PROMPT}]})
ROTATE = rotating_sessions("s-", SESSIONS)
CONFIGS = {
    "off": {},
    "on": {"MEMORY_SHORT_TERM_TOKEN_BUDGET": "1000", "MEMORY_ROLLING_SUMMARY": "true"},
}


def summary_events(url: str) -> int:
    """Summary events over all the benchmark's sessions."""
    count = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        for n in range(SESSIONS):
            response = client.get("/memory/events", params={"session_id": f"s-{n}", "limit": 1000})
            if response.status_code == 200:
                count += sum(e["event_type"] == "summary" for e in response.json()["events"])
    return count


def run(seconds: float, rounds: int) -> dict[str, Any]:
    loads: dict[str, list[Load]] = {name: [] for name in CONFIGS}
    with ExitStack() as stack:
        servers: dict[str, Started] = {}
        for name, extra in CONFIGS.items():
            servers[name] = start_mock_pais(ANSWER, {"MEMORY_TYPE": "local", **extra})
            stack.callback(servers[name].stop)
        for server in servers.values():  # warm-up: every session gets past the budget
            wrk(f"{server.url}/v1/chat/completions", connections=CONNECTIONS, seconds=2, body=BODY, lua=ROTATE)
        for _ in range(rounds):
            for name, server in servers.items():
                url = f"{server.url}/v1/chat/completions"
                loads[name].append(wrk(url, connections=CONNECTIONS, seconds=seconds, body=BODY, lua=ROTATE))
        summaries = summary_events(servers["on"].url)
    rps = {name: median([load.rps for load in runs]) for name, runs in loads.items()}
    return {
        "seconds": seconds,
        "rounds": rounds,
        "connections": CONNECTIONS,
        "sessions": SESSIONS,
        "rps": rps,
        "p99_ms": {name: median([load.p99_ms for load in runs]) for name, runs in loads.items()},
        "errors": {name: sum(load.errors for load in runs) for name, runs in loads.items()},
        "summary_events": summaries,
        "ratio": round(rps["on"] / rps["off"], 3),
    }


def report(results: dict[str, Any]) -> None:
    print(f"Chat throughput, {results['connections']} clients over {results['sessions']} sessions (local memory)")
    print(f"{'history':>34} {'req/s':>8} {'p99 ms':>8} {'errors':>7}")
    labels = {"off": "MEMORY_CONTEXT_LIMIT=6 only", "on": "+ budget 1000 + rolling summaries"}
    for name, label in labels.items():
        print(f"{label:>34} {results['rps'][name]:>8.0f} {results['p99_ms'][name]:>8.1f} {results['errors'][name]:>7}")
    print(f"summary events written: {results['summary_events']}")
    print(f"ratio on/off: {results['ratio']:.3f} (goal >= 0.9)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = run(args.seconds, args.rounds)
    report(results)
    print(f"results merged into {merge_results({'history_budget': results})}")


if __name__ == "__main__":
    main()
