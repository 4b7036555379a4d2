"""Added latency of one delegation hop: an orchestrator delegating to a worker minus the worker alone.

Real PAIS servers on loopback with scripted instant models (DEBUG_MOCK_RESPONSES): the
orchestrator calls `delegate_to_worker` then answers; the worker answers `ok`. A third agent
runs the orchestrator's two model steps without the hop (its tool call names no tool), which
splits the hop into the orchestrator's own turn and the A2A call. The worker is also timed over
A2A (`SendMessage`, the call the hop makes). Each variant gets `--requests` chat completions (new
session each) after a warm-up: sequentially, round-robin across the variants so that load from
other processes hits them alike, then (unless `--no-concurrent`) from `--clients` concurrent
clients, one variant at a time. Servers log at WARNING. Prints p50/p99 and the differences, and the
floor under them: bare in-process Pydantic AI runs (one step; two steps around a no-op tool, which is
what the orchestrator's turn in a hop is) timed in the same run.

    uv run python bench/delegation/bench_delegation.py [--requests 200] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import Started, free_port, save, start_server

TARGET_P50_MS = 5.0
CHAT = {"model": "bench", "messages": [{"role": "user", "content": "What is the answer?"}]}
ORCHESTRATOR_SCRIPT = [{"tool_calls": [{"name": "delegate_to_worker", "arguments": {"task": "x"}}]}, "done"]
NO_HOP_SCRIPT = [{"tool_calls": [{"name": "no_such_tool", "arguments": {"task": "x"}}]}, "done"]
WORKER = "worker alone (chat)"
WORKER_A2A = "worker alone (A2A SendMessage)"
NO_HOP = "orchestrator, no hop (2 steps)"
HOP = "orchestrator, one hop (chat)"


@dataclass
class Timing:
    name: str
    clients: int
    requests: int
    p50_ms: float
    p99_ms: float
    mean_ms: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(name: str, clients: int, seconds: list[float]) -> Timing:
    ms = [s * 1000 for s in seconds]
    return Timing(name, clients, len(ms), percentile(ms, 0.5), percentile(ms, 0.99), statistics.fmean(ms))


def a2a_body() -> dict[str, object]:
    message = {"role": "ROLE_USER", "messageId": uuid.uuid4().hex, "parts": [{"text": "x"}]}
    return {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}


Check = Callable[[httpx.Response], None]


def chat_ok(expected: str) -> Check:
    def check(response: httpx.Response) -> None:
        content = response.json()["choices"][0]["message"]["content"]
        if response.status_code != 200 or content != expected:
            raise RuntimeError(f"unexpected answer {response.status_code}: {response.text[:300]}")

    return check


def a2a_ok(response: httpx.Response) -> None:
    if response.json()["result"]["task"]["status"]["state"] != "TASK_STATE_COMPLETED":
        raise RuntimeError(f"unexpected A2A answer: {response.text[:300]}")


async def timed(client: httpx.AsyncClient, url: str, body: Callable[[], object], check: Check) -> float:
    started = time.perf_counter()
    response = await client.post(url, json=body())
    elapsed = time.perf_counter() - started
    check(response)
    return elapsed


@dataclass(frozen=True)
class Variant:
    name: str
    url: str
    body: Callable[[], object]
    check: Check


async def run_load(variants: list[Variant], *, requests: int, clients: int) -> dict[str, list[float]]:
    """Each variant's request latencies: round-robin with one client, else one variant at a time."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    seconds: dict[str, list[float]] = {v.name: [] for v in variants}
    # A2A-Version picks the 1.0 shapes `a2a_ok` reads (the chat route ignores the header)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers={"A2A-Version": "1.0"}) as client:
        for variant in variants:
            for _ in range(20):  # warm-up: connections, lazily built schemas, the worker's card
                await timed(client, variant.url, variant.body, variant.check)
        if clients == 1:
            for _ in range(requests):
                for v in variants:
                    seconds[v.name].append(await timed(client, v.url, v.body, v.check))
            return seconds
        for v in variants:

            async def loop(v: Variant, counter: Iterator[int]) -> None:
                for _ in counter:
                    seconds[v.name].append(await timed(client, v.url, v.body, v.check))

            shared = iter(range(requests))
            await asyncio.gather(*(loop(v, shared) for _ in range(clients)))
    return seconds


async def _bare_run_ms(agent: Agent[None, str], runs: int) -> float:
    for _ in range(20):
        await agent.run("x", infer_name=False)
    started = time.perf_counter()
    for _ in range(runs):
        await agent.run("x", infer_name=False)
    return (time.perf_counter() - started) / runs * 1000


async def bare_runs(runs: int = 500) -> dict[str, float]:
    """Mean ms of bare in-process `agent.run`s with an instant model: one step, and two steps around a no-op tool.

    The floor under any server on this machine: the orchestrator's turn in a hop is such a two-step run.
    """

    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("ok")])

    async def call_then_answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) > 1:
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("delegate_to_worker", {"task": "x"})])

    two_steps = Agent(FunctionModel(call_then_answer))

    @two_steps.tool_plain
    async def delegate_to_worker(task: str) -> str:
        return "ok"

    return {
        "one_step_ms": await _bare_run_ms(Agent(FunctionModel(answer)), runs),
        "two_steps_ms": await _bare_run_ms(two_steps, runs),
    }


def start_agent(name: str, port: int, env: dict[str, str]) -> Started:
    argv = [sys.executable, "-m", "pais_server"]
    full = {"AGENT_NAME": name, "AGENT_PORT": str(port), "LOG_LEVEL": "WARNING", **env}
    return start_server(argv, port=port, ready_path="/ready", env=full)


async def measure(agents: dict[str, Started], *, requests: int, clients: int) -> list[Timing]:
    chat = lambda: CHAT  # noqa: E731
    worker, no_hop, hop = agents["worker"], agents["no-hop"], agents["orchestrator"]
    variants = [
        Variant(WORKER, f"{worker.url}/v1/chat/completions", chat, chat_ok("ok")),
        Variant(WORKER_A2A, f"{worker.url}/", a2a_body, a2a_ok),
        Variant(NO_HOP, f"{no_hop.url}/v1/chat/completions", chat, chat_ok("done")),
        Variant(HOP, f"{hop.url}/v1/chat/completions", chat, chat_ok("done")),
    ]
    seconds = await run_load(variants, requests=requests, clients=clients)
    return [summarise(name, clients, values) for name, values in seconds.items()]


def report(timings: list[Timing], floor: dict[str, float]) -> dict[str, float]:
    by_name = {t.name: t for t in timings}
    worker, a2a, no_hop, hop = by_name[WORKER], by_name[WORKER_A2A], by_name[NO_HOP], by_name[HOP]
    print(f"\n{worker.clients} client(s), {worker.requests} requests per variant")
    print(f"  {'variant':<34} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for t in timings:
        print(f"  {t.name:<34} {t.p50_ms:>8.2f} {t.p99_ms:>8.2f} {t.mean_ms:>8.2f}")
    added = {
        "hop_p50_ms": hop.p50_ms - worker.p50_ms,
        "hop_p99_ms": hop.p99_ms - worker.p99_ms,
        "hop_p50_ratio_to_worker": hop.p50_ms / worker.p50_ms,
        "orchestrator_turn_p50_ms": no_hop.p50_ms,
        "call_through_tool_vs_direct_p50_ms": hop.p50_ms - no_hop.p50_ms - worker.p50_ms,
        "a2a_vs_chat_p50_ms": a2a.p50_ms - worker.p50_ms,
        "bare_two_step_run_ms": floor["two_steps_ms"],
        "hop_beyond_bare_run_p50_ms": hop.p50_ms - worker.p50_ms - floor["two_steps_ms"],
    }
    print(
        f"  added per hop (one hop - worker alone): p50 {added['hop_p50_ms']:.2f} ms, p99 {added['hop_p99_ms']:.2f} ms"
        f" ({added['hop_p50_ratio_to_worker']:.2f}x the worker's p50)\n"
        f"    of which the orchestrator's own 2-step turn (no hop): p50 {no_hop.p50_ms:.2f} ms;"
        f" reaching the worker through the tool instead of directly: p50"
        f" {added['call_through_tool_vs_direct_p50_ms']:+.2f} ms;"
        f" A2A vs chat on the worker: p50 {added['a2a_vs_chat_p50_ms']:+.2f} ms\n"
        f"    floor: a bare in-process Pydantic AI run with an instant model costs {floor['one_step_ms']:.2f} ms"
        f" (one step) / {floor['two_steps_ms']:.2f} ms (two steps around a tool) here;"
        f" the hop adds p50 {added['hop_beyond_bare_run_p50_ms']:.2f} ms beyond the bare two-step run"
    )
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per variant")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the concurrent variant")
    parser.add_argument("--no-concurrent", action="store_true", help="only the sequential variant")
    args = parser.parse_args()

    agents: dict[str, Started] = {}
    try:
        agents["worker"] = worker = start_agent("worker", free_port(), {"DEBUG_MOCK_RESPONSES": json.dumps(["ok"])})
        for name, script in (("orchestrator", ORCHESTRATOR_SCRIPT), ("no-hop", NO_HOP_SCRIPT)):
            env = {"DEBUG_MOCK_RESPONSES": json.dumps(script), "AGENT_SUB_AGENTS": f"worker:{worker.url}"}
            agents[name] = start_agent(name, free_port(), env)
        floor = asyncio.run(bare_runs())
        results: dict[str, object] = {"requests": args.requests, "target_hop_p50_ms": TARGET_P50_MS, "floor": floor}
        sequential = asyncio.run(measure(agents, requests=args.requests, clients=1))
        results["sequential"] = {"timings": sequential, **report(sequential, floor)}
        if not args.no_concurrent:
            concurrent = asyncio.run(measure(agents, requests=args.requests, clients=args.clients))
            results["concurrent"] = {"timings": concurrent, **report(concurrent, floor)}
    finally:
        for agent in agents.values():
            agent.stop()
    sequential = results["sequential"]
    assert isinstance(sequential, dict)
    hop = sequential["hop_p50_ms"]
    assert isinstance(hop, float)
    verdict = "meets" if hop < TARGET_P50_MS else "misses"
    print(f"\nsequential hop p50 {hop:.2f} ms {verdict} the {TARGET_P50_MS:g} ms target")
    print(f"saved {save('delegation', results)}")


if __name__ == "__main__":
    main()
