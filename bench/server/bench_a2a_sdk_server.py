"""PAIS's A2A server against one built from the official `a2a-sdk` server components (issue #17, item 5).

Run: `python bench/server/bench_a2a_sdk_server.py [--seconds 5] [--rounds 3]`.

Both answer `message/send` (A2A 0.3 JSON-RPC, a new context per task) with the same text as a
completed task with one answer artifact, in memory:

- PAIS: `python -m pais_server` with the mock model (`DEBUG_MOCK_RESPONSES`), `MEMORY_TYPE=local`
  (each task is an agent run that also writes its session's events, run log and lease);
- a2a-sdk: `bench/server/a2a_sdk_app.py` under uvicorn (Starlette JSON-RPC routes with 0.3
  compatibility, `DefaultRequestHandler`, `InMemoryTaskStore`, a trivial `AgentExecutor`): the
  protocol layer alone;
- a2a-sdk + agent: the same with an executor that runs a Pydantic AI agent on an instant model.

Measured, the servers alternating each round (median of the rounds):

- import: seconds to import the server modules in a fresh interpreter (`pais_server`; the
  a2a-sdk server modules with Starlette and uvicorn); and what the a2a-sdk server modules add
  when imported after `pais_server` (what adopting them would add to PAIS's start-up);
- start-up: spawn to the first 200 on `/.well-known/agent-card.json`;
- RSS after start-up, and after the load (every request of the wrk runs of that round);
- blocking `message/send` throughput with wrk at 1 and 16 clients, and its p99.

The server is pinned to core 0 and wrk to core 1 (`taskset`). Prints a table with ratios to
PAIS and writes bench/results/a2a_sdk_server.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from _harness import free_port, save, start_server, uvicorn_argv, wrk  # noqa: E402

CLIENTS = (1, 16)
CARD = "/.well-known/agent-card.json"
ANSWER = "The answer is 42."

SEND = """
local n = 0
request = function()
  n = n + 1
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"kind":"message",'
    .. '"role":"user","messageId":"m-' .. n .. '","contextId":"bench-' .. n .. '",'
    .. '"parts":[{"kind":"text","text":"What is the answer?"}]}}}'
  return wrk.format()
end
"""

VARIANTS = ("pais", "a2a_sdk", "a2a_sdk_agent")
LABELS = {"pais": "PAIS", "a2a_sdk": "a2a-sdk", "a2a_sdk_agent": "sdk+agent"}
RATIO_LABELS = {"a2a_sdk": "sdk/PAIS", "a2a_sdk_agent": "+agent/PAIS"}
A2A_SERVER = (
    "import a2a.server.routes, a2a.server.request_handlers, a2a.server.tasks, a2a.server.agent_execution,"
    " starlette.applications, uvicorn"
)
IMPORTS = {  # name: (already imported, measured)
    "pais": ("", "import pais_server"),
    "a2a_sdk": ("", A2A_SERVER),
    "a2a_sdk_after_pais": ("import pais_server", A2A_SERVER),
}


def import_seconds(before: str, statement: str) -> float:
    """Seconds `statement` takes in a fresh interpreter, after `before` ran."""
    code = f"{before}\nimport time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def argv_and_env(name: str, port: int) -> tuple[list[str], dict[str, str]]:
    if name == "pais":
        env = {
            "AGENT_NAME": "bench-pais",
            "AGENT_PORT": str(port),
            "DEBUG_MOCK_RESPONSES": json.dumps([ANSWER]),
            "MEMORY_TYPE": "local",
            "LOG_LEVEL": "WARNING",
        }
        return [sys.executable, "-m", "pais_server"], env
    factory = "a2a_sdk_app:create_app" if name == "a2a_sdk" else "a2a_sdk_app:create_agent_app"
    return uvicorn_argv(factory, port, ROOT / "bench" / "server"), {"A2A_SDK_URL": f"http://127.0.0.1:{port}/"}


def one_round(name: str, seconds: float) -> dict[str, Any]:
    port = free_port()
    argv, env = argv_and_env(name, port)
    server = start_server(argv, port=port, ready_path=CARD, env=env)
    try:
        rss_started = server.rss_mib()
        warm = wrk(f"{server.url}/", connections=4, seconds=1, lua=SEND)
        loads = {str(c): wrk(f"{server.url}/", connections=c, seconds=seconds, lua=SEND) for c in CLIENTS}
        requests = round(warm.rps * 1 + sum(load.rps * seconds for load in loads.values()))
        return {
            "ready_seconds": server.ready_seconds,
            "rss_started_mib": rss_started,
            "rss_loaded_mib": server.rss_mib(),
            "requests": requests,
            "loads": loads,
        }
    finally:
        server.stop()


def _row(label: str, values: dict[str, float], digits: int) -> str:
    cells = [f"{values[name]:>10.{digits}f}" for name in VARIANTS]
    ratios = [f"{values[name] / values['pais']:>12.2f}" for name in VARIANTS[1:]]
    return f"{label:<30}" + "".join(cells) + "".join(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each starts every server once)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    imports: dict[str, list[float]] = {name: [] for name in IMPORTS}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, (before, statement) in IMPORTS.items():
            imports[name].append(import_seconds(before, statement))
        for name in VARIANTS:
            rounds[name].append(one_round(name, args.seconds))

    def med(key: str) -> dict[str, float]:
        return {name: statistics.median(r[key] for r in rounds[name]) for name in VARIANTS}

    def send(clients: int, key: str) -> dict[str, float]:
        runs = {name: [r["loads"][str(clients)] for r in rounds[name]] for name in VARIANTS}
        return {name: statistics.median(getattr(run, key) for run in runs[name]) for name in VARIANTS}

    summary: dict[str, Any] = {
        "load_average": [load_before, os.getloadavg()[0]],
        "rounds": args.rounds,
        "seconds": args.seconds,
        "import_seconds": {name: statistics.median(values) for name, values in imports.items()},
        **{key: med(key) for key in ("ready_seconds", "rss_started_mib", "rss_loaded_mib", "requests")},
        "send": {
            str(c): {"rps": send(c, "rps"), "p99_ms": send(c, "p99_ms"), "errors": send(c, "errors")} for c in CLIENTS
        },
    }
    print(
        f"PAIS against servers from the a2a-sdk server components, median of {args.rounds} interleaved rounds"
        f" (load average {summary['load_average'][0]:.1f} before, {summary['load_average'][1]:.1f} after)"
    )
    print(
        f"{'':<30}"
        + "".join(f"{LABELS[n]:>10}" for n in VARIANTS)
        + "".join(f"{RATIO_LABELS[n]:>12}" for n in VARIANTS[1:])
    )
    imported = summary["import_seconds"]
    print(_row("import server modules (s)", {**imported, "a2a_sdk_agent": imported["a2a_sdk"]}, 3))
    print(f"{'  a2a-sdk after pais_server (s)':<30}{imported['a2a_sdk_after_pais']:>10.3f}")
    print(_row("start-up to first card (s)", summary["ready_seconds"], 3))
    print(_row("RSS after start-up (MiB)", summary["rss_started_mib"], 1))
    print(_row("RSS after the load (MiB)", summary["rss_loaded_mib"], 1))
    print(_row("  requests served per round", summary["requests"], 0))
    for clients in CLIENTS:
        print(_row(f"message/send/s, {clients} clients", summary["send"][str(clients)]["rps"], 0))
        print(_row("  p99 (ms)", summary["send"][str(clients)]["p99_ms"], 1))
        if any(summary["send"][str(clients)]["errors"].values()):
            print(f"  errors: {summary['send'][str(clients)]['errors']}")
    path = save("a2a_sdk_server", summary)
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
