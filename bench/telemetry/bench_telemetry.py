"""Chat throughput and latency of `python -m pais_server` with telemetry off vs on, in one run.

"On" exports traces, metrics and logs over OTLP/HTTP to a local receiver (tests/support's
OtlpReceiver). The receiver answers each export at once and decodes what arrived after the
measurement: in a cluster the collector runs on other nodes, so its CPU is not the agent server's
cost. All servers talk to the same scripted OpenAI-compatible model on loopback. The model, the
receiver and each server run in processes of their own, so none shares a GIL with the load
generator. The servers run on core 0, everything else (load generator, model, receiver) on core 1,
so a server's own CPU, export threads included, bounds its throughput, as in a pod with its own CPU.
Rounds alternate between the servers so machine load hits all alike; each configuration's best
round is compared. Target: telemetry on keeps at least 85% of the throughput.

A third PAIS server samples 10% of traces (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, argument
0.1; metrics and logs stay complete). And the floor: `minimal_otel.py`, a hand-written FastAPI +
Pydantic AI endpoint exporting the same signals with the OpenTelemetry SDK set up by hand, measured
off and on in the same rounds. Its on/off ratio is what the libraries cost any server built on them.

    .venv/bin/python bench/telemetry/bench_telemetry.py [--requests 400] [--concurrency 8] [--rounds 3]

Prints a table and the on/off ratios; writes bench/results/telemetry.json. On a shared machine the
throughput ratio swings with other load; the server's CPU time per request (from /proc, all its
threads, exports included) is the steadier measure of what telemetry costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from pais_testing.ports import free_port, wait_for_http  # noqa: E402
from pais_testing.process import ManagedProcess, pais_server_process  # noqa: E402

CHAT = {"messages": [{"role": "user", "content": "Say hello to the benchmark."}]}
WARM_UP = 20
# Each helper server runs in its own process, prints its base URL, and on SIGTERM prints a last line.
_HELPER = """
import signal, sys, threading
sys.path.insert(0, {support!r})
{setup}
server.start()
print("URL", server.base_url, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
{report}
server.stop()
"""
_MODEL = _HELPER.format(
    support=str(ROOT / "tests" / "support"),
    setup="from pais_testing.scripted_model import ScriptedModelServer, scripted\n"
    "server = ScriptedModelServer(scripted('Hello, benchmark!'))",
    report="",
)
_RECEIVER = _HELPER.format(
    support=str(ROOT / "tests" / "support"),
    setup="from pais_testing.otlp_receiver import OtlpReceiver\nserver = OtlpReceiver(decode_later=True)",
    report="print('EXPORTED', len(server.spans), len(server.logs), len(server.metric_points), flush=True)",
)


def _helper(script: str) -> tuple[ManagedProcess, str]:
    proc = ManagedProcess([sys.executable, "-c", script]).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in proc.output().splitlines():
            if line.startswith("URL "):
                return proc, line.split()[1]
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"helper server did not start:\n{proc.output()}")


SERVER_CORE, OTHERS_CORE = 0, 1
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
MODES = ("off", "on", "on, 10% sampled", "minimal off", "minimal on")


def _server(model_url: str, receiver_url: str, mode: str) -> tuple[ManagedProcess, str]:
    if mode.startswith("minimal"):
        return _minimal(model_url, receiver_url if mode == "minimal on" else None)
    env = {
        "AGENT_NAME": "bench-agent",
        "MODEL_API_URL": f"{model_url}/v1",
        "MODEL_NAME": "scripted",
        "LOG_LEVEL": "INFO",  # the operator's default, in every configuration
        "OTEL_ENABLED": "false",
    }
    if mode != "off":
        env |= {"OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url}
    if mode == "on, 10% sampled":
        env |= SAMPLED
    port = free_port()
    return _started(pais_server_process(env, port=port), port)


def _minimal(model_url: str, receiver_url: str | None) -> tuple[ManagedProcess, str]:
    port = free_port()
    argv = [sys.executable, str(HERE / "minimal_otel.py"), "--port", str(port), "--model-url", f"{model_url}/v1"]
    return _started(ManagedProcess(argv + (["--otlp", receiver_url] if receiver_url else [])), port)


def _started(proc: ManagedProcess, port: int) -> tuple[ManagedProcess, str]:
    proc.start()
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/ready", timeout=60)
    assert proc.proc is not None
    _pin(proc.proc.pid, SERVER_CORE)
    return proc, base


def _pin(pid: int, core: int) -> None:
    """Pin every thread of process `pid` to `core` (threads it starts later inherit it)."""
    if (os.cpu_count() or 1) > 1:
        for thread in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(thread), {core})


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid`, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(base: str, *, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await client.post("/v1/chat/completions", json=CHAT)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        for _ in range(WARM_UP):  # connections, first-request imports
            (await client.post("/v1/chat/completions", json=CHAT)).raise_for_status()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "throughput_rps": round(len(latencies) / elapsed, 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "telemetry.json")
    args = parser.parse_args()

    _pin(os.getpid(), OTHERS_CORE)  # the model and receiver processes started from here inherit it
    rounds: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    model, model_url = _helper(_MODEL)
    receiver, receiver_url = _helper(_RECEIVER)
    processes = [model, receiver]
    try:
        servers = {mode: _server(model_url, receiver_url, mode) for mode in MODES}
        processes += [proc for proc, _ in servers.values()]
        for _ in range(args.rounds):
            for mode, (proc, base) in servers.items():
                assert proc.proc is not None
                cpu_before = _cpu_seconds(proc.proc.pid)
                result = asyncio.run(_load(base, requests=args.requests, concurrency=args.concurrency))
                time.sleep(1.0)  # let the batch exporters finish this round's work
                cpu = _cpu_seconds(proc.proc.pid) - cpu_before
                served = result["requests"] + WARM_UP  # the warm-up requests ran inside the measured span too
                result["server_cpu_ms_per_request"] = round(cpu / served * 1000, 2)
                rounds[mode].append(result)
                print(f"  {mode:15s} {result}", flush=True)
    finally:
        for proc in reversed(processes):  # servers first: they flush to the receiver as they stop
            proc.stop()
    counts = [line.split()[1:] for line in receiver.output().splitlines() if line.startswith("EXPORTED")]
    exported = dict(zip(("spans", "log_records", "metric_points"), map(int, counts[0]), strict=True)) if counts else {}

    best = {mode: max(results, key=lambda r: r["throughput_rps"]) for mode, results in rounds.items()}
    cpu = {mode: statistics.median(r["server_cpu_ms_per_request"] for r in results) for mode, results in rounds.items()}
    baseline = {mode: "minimal off" if mode.startswith("minimal") else "off" for mode in MODES}
    throughput_ratio = {m: best[m]["throughput_rps"] / best[baseline[m]]["throughput_rps"] for m in MODES}
    cpu_ratio = {mode: cpu[mode] / cpu[baseline[mode]] for mode in MODES}
    p99_ratio = best["on"]["p99_ms"] / best["off"]["p99_ms"]
    header = ("req/s", 10), ("p50 ms", 10), ("p99 ms", 10), ("CPU ms/req", 12), ("req/s vs off", 14), ("CPU vs off", 12)
    print("\n" + " " * 16 + "".join(f"{name:>{width}s}" for name, width in header))
    for mode, result in best.items():
        print(
            f"{mode:16s}{result['throughput_rps']:>10.1f}{result['p50_ms']:>10.1f}{result['p99_ms']:>10.1f}"
            f"{cpu[mode]:>12.2f}{throughput_ratio[mode]:>14.3f}{cpu_ratio[mode]:>12.3f}"
        )
    print(f"\nthroughput on/off: {throughput_ratio['on']:.3f} (target >= 0.85)   p99 on/off: {p99_ratio:.3f}")
    print(
        f"floor: the minimal FastAPI + Pydantic AI endpoint with the same telemetry keeps "
        f"{throughput_ratio['minimal on']:.3f} of its throughput (CPU {cpu_ratio['minimal on']:.3f}x)"
    )
    print(f"exported to the receiver: {exported}")

    report: dict[str, Any] = {
        "benchmark": "chat completions, telemetry off vs on (OTLP/HTTP to a local receiver)",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "parameters": {"requests": args.requests, "concurrency": args.concurrency, "rounds": args.rounds},
        "rounds": rounds,
        "best": best,
        "throughput_ratio_vs_off": {mode: round(ratio, 3) for mode, ratio in throughput_ratio.items()},
        "server_cpu_ratio_vs_off": {mode: round(ratio, 3) for mode, ratio in cpu_ratio.items()},
        "throughput_ratio_on_off": round(throughput_ratio["on"], 3),
        "p99_ratio_on_off": round(p99_ratio, 3),
        "server_cpu_ms_per_request_median": cpu,
        "target_throughput_ratio": 0.85,
        "exported": exported,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
