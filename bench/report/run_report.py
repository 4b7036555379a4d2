"""Run every benchmark under bench/ plus the soak test, then write the performance report.

    uv run python bench/report/run_report.py [--render-only] [--soak-seconds 60] [--budget 1000]

Discovers `bench/*/bench_*.py` and runs each in its own process (its output goes to
`bench/results/logs/`); a benchmark that is missing, fails or runs out of time becomes a
"not measured" row, never a crash. Then runs `tests/load/test_soak.py` (2 replicas + Redis,
64 clients) and writes `docs/performance/report.md` with PNG figures beside it, each figure a
ratio to the baseline measured in the same run. `--render-only` redraws the report from the
JSON files already in `bench/results/`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
RUNS = LOGS / "runs.json"  # what the last full run did, for --render-only
OUT = ROOT / "docs" / "performance"
SOAK_TEST = "tests/load/test_soak.py"

# Settings for benchmarks whose options are known, so the whole run fits in about 13 minutes.
ARGS: dict[str, list[str]] = {
    "server/bench_chat.py": ["--seconds", "2", "--rounds", "5", "--starts", "3"],
    "server/bench_instructions.py": ["--requests", "400"],
    "memory/bench_server_memory.py": ["--seconds", "4"],
    "cli/bench_cli_startup.py": ["--repeat", "5"],
    "telemetry/bench_telemetry.py": ["--requests", "300", "--rounds", "3"],
}
MIN_REMAINING = 30.0  # seconds of budget a benchmark needs to be started at all

Json = Any
Row = tuple[str, str, str, str]  # target, measured, verdict, source


@dataclass
class Run:
    name: str
    status: str
    seconds: float


@dataclass
class Report:
    """Markdown being written, the target rows and the figures drawn."""

    lines: list[str] = field(default_factory=list[str])
    targets: list[Row] = field(default_factory=list[Row])

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.add("| " + " | ".join(header) + " |", "|" + "---|" * len(header))
        self.add(*("| " + " | ".join(row) + " |" for row in rows))
        self.add("")

    def save(self, fig: Figure, name: str, title: str) -> None:
        """Write `fig` as docs/performance/`name` and show it here."""
        fig.tight_layout()
        fig.savefig(OUT / name, dpi=110)
        plt.close(fig)
        self.add(f"![{title}]({name})", "")

    def target(self, target: str, measured: str, met: bool | None, source: str) -> None:
        verdict = "not measured" if met is None else "met" if met else "**missed**"
        self.targets.append((target, measured, verdict, source))


def _run(argv: list[str], name: str, *, timeout: float, env: dict[str, str] | None = None) -> Run:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name.replace('/', '_')}.log"
    started = time.perf_counter()
    print(f"running {name} ...", flush=True)
    with log.open("w") as out:
        try:
            proc = subprocess.run(
                argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, env={**os.environ, **(env or {})}
            )
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode}, see {log.relative_to(ROOT)})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {timeout:.0f} s"
    run = Run(name, status, time.perf_counter() - started)
    print(f"  {run.status} in {run.seconds:.0f} s", flush=True)
    return run


def run_all(*, budget: float, soak_seconds: float) -> list[Run]:
    started = time.perf_counter()
    runs: list[Run] = []
    scripts = sorted(ROOT.glob("bench/*/bench_*.py"))
    names = [str(p.relative_to(ROOT / "bench")) for p in scripts]
    jobs: list[tuple[str, list[str], dict[str, str] | None]] = [
        (name, [sys.executable, str(p), *ARGS.get(name, [])], None) for name, p in zip(names, scripts, strict=True)
    ]
    if soak_seconds > 0:
        soak = [sys.executable, "-m", "pytest", SOAK_TEST, "-q", "-p", "no:cacheprovider", "--timeout", "900"]
        # the soak goes first: it is the only fixed-length job, so it never gets squeezed out by the budget
        jobs.insert(0, ("load/test_soak.py", soak, {"SOAK_SECONDS": f"{soak_seconds:g}"}))
    for name, argv, env in jobs:
        remaining = budget - (time.perf_counter() - started)
        if remaining < MIN_REMAINING:
            runs.append(Run(name, "not run: time budget used up", 0.0))
            continue
        runs.append(_run(argv, name, timeout=remaining, env=env))
    return runs


def load_results(since: float | None) -> dict[str, Json]:
    """`bench/results/*.json`, only those written after `since` when given."""
    found: dict[str, Json] = {}
    for path in sorted(RESULTS.glob("*.json")):
        if since is not None and path.stat().st_mtime < since:
            continue
        try:
            found[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
    return found


def _ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN check


# --- sections ------------------------------------------------------------------------------------


def server_section(report: Report, data: Json) -> None:
    servers = {s["name"]: s for s in data}
    base = servers["minimal"]
    base_loads = {load["connections"]: load for load in base["loads"]}
    report.add(
        "Non-streaming chat against an instant in-process model (`bench/server/bench_chat.py`): "
        "PAIS with local memory, PAIS with memory in Redis, the minimal hand-written FastAPI + "
        "`agent.run` endpoint (the baseline) and a fixed-body FastAPI endpoint (the HTTP ceiling). "
        "Load from `wrk`, server and load generator pinned to separate cores.",
        "",
    )
    rows: list[list[str]] = []
    for name, server in servers.items():
        for load in server["loads"]:
            ratio = _ratio(load["rps"], base_loads[load["connections"]]["rps"])
            rows.append(
                [
                    name,
                    str(load["connections"]),
                    f"{load['rps']:.0f}",
                    _fmt(load["p50_ms"]),
                    _fmt(load["p99_ms"]),
                    str(load["errors"]),
                    f"{ratio:.0%}",
                ]
            )
    report.table(["server", "clients", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs minimal"], rows)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, server in servers.items():
        levels = [load["connections"] for load in server["loads"]]
        ax.plot(
            levels, [_ratio(x["rps"], base_loads[x["connections"]]["rps"]) for x in server["loads"]], "o-", label=name
        )
    ax.axhline(0.9, color="grey", linestyle="--", linewidth=1, label="target 0.9")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(base_loads), [str(level) for level in sorted(base_loads)])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("throughput / minimal endpoint")
    ax.set_title("Throughput vs concurrency (ratio to minimal)")
    ax.legend(fontsize=8)
    report.save(fig, "throughput.png", "throughput vs concurrency")

    level = 16 if 16 in base_loads else max(base_loads)
    quantiles = [q for q in ("p50_ms", "p75_ms", "p90_ms", "p99_ms") if base_loads[level].get(q) is not None]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    width = 0.8 / len(servers)
    for i, (name, server) in enumerate(servers.items()):
        load = next(x for x in server["loads"] if x["connections"] == level)
        ratios = [_ratio(load.get(q) or float("nan"), base_loads[level][q]) for q in quantiles]
        ax.bar([j + i * width for j in range(len(quantiles))], ratios, width, label=name)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks([j + width * (len(servers) - 1) / 2 for j in range(len(quantiles))])
    ax.set_xticklabels([q.removesuffix("_ms") for q in quantiles])
    ax.set_ylabel("latency / minimal endpoint")
    ax.set_title(f"Latency percentiles at {level} clients (ratio to minimal)")
    ax.legend(fontsize=8)
    report.save(fig, "latency.png", "latency percentiles")

    report.add("Start to ready (median of process starts) and idle RSS (1 s after ready):", "")
    report.table(
        ["server", "start->ready s", "vs minimal", "idle RSS MiB", "vs minimal"],
        [
            [
                name,
                f"{s['ready_seconds']:.3f}",
                f"{_ratio(s['ready_seconds'], base['ready_seconds']):.2f}x",
                f"{s['idle_rss_mib']:.1f}",
                f"{_ratio(s['idle_rss_mib'], base['idle_rss_mib']):.2f}x",
            ]
            for name, s in servers.items()
        ],
    )
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = list(servers)
    ready = [_ratio(servers[n]["ready_seconds"], base["ready_seconds"]) for n in names]
    rss = [_ratio(servers[n]["idle_rss_mib"], base["idle_rss_mib"]) for n in names]
    ax.bar([i - 0.2 for i in range(len(names))], ready, 0.4, label="start->ready (target <= 1.2)")
    ax.bar([i + 0.2 for i in range(len(names))], rss, 0.4, label="idle RSS (target <= 1.3)")
    ax.axhline(1.2, color="C0", linestyle="--", linewidth=1)
    ax.axhline(1.3, color="C1", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("ratio to minimal endpoint")
    ax.set_title("Start-up time and idle RSS (ratio to minimal)")
    ax.legend(fontsize=8)
    report.save(fig, "startup_rss.png", "start-up time and idle RSS")

    for name, label in (("pais", "PAIS (local memory)"), ("pais+redis", "PAIS (memory in Redis)")):
        if name in servers and 16 in base_loads:
            load = next(x for x in servers[name]["loads"] if x["connections"] == 16)
            ratio = _ratio(load["rps"], base_loads[16]["rps"])
            report.target(
                f"{label} throughput at 16 clients >= 90% of minimal",
                f"{ratio:.0%} ({load['rps']:.0f} vs {base_loads[16]['rps']:.0f} req/s)",
                ratio >= 0.9,
                "server",
            )
    pais = servers["pais"]
    ready_ratio = _ratio(pais["ready_seconds"], base["ready_seconds"])
    rss_ratio = _ratio(pais["idle_rss_mib"], base["idle_rss_mib"])
    report.target("start->ready <= 1.2x minimal", f"{ready_ratio:.2f}x", ready_ratio <= 1.2, "server")
    report.target("idle RSS <= 1.3x minimal", f"{rss_ratio:.2f}x", rss_ratio <= 1.3, "server")


def _round_trip_rows(per_turn: list[Json]) -> list[list[str]]:
    first = per_turn[0]["round_trips_per_turn"]
    return [
        [
            str(p["history_events"]),
            _fmt(p["round_trips_per_turn"], 1),
            f"{_ratio(p['round_trips_per_turn'], first):.2f}x",
            _fmt(p["commands_per_turn"], 1),
        ]
        for p in per_turn
    ]


def memory_section(report: Report, data: Json) -> None:
    """RedisMemory alone (`per_turn`, `throughput`) and, when measured, through the server (`through_server`)."""
    header = ["events in session", "round trips / turn", "vs smallest history", "commands / turn"]
    measured: dict[str, list[Json]] = {}
    if "per_turn" in data:
        measured["RedisMemory"] = data["per_turn"]
        report.add(
            "RedisMemory per chat turn (`bench/memory/bench_memory.py`): round trips on the wire and commands "
            "Redis executed, for sessions that already hold few and many events; and turns per second against "
            "the baseline of one pipelined write of the same bytes.",
            "",
        )
        report.table(header, _round_trip_rows(data["per_turn"]))
    if "throughput" in data:
        report.table(
            ["sessions", "turns", "memory turns/s", "baseline turns/s", "ratio"],
            [
                [
                    str(t["sessions"]),
                    str(t["turns"]),
                    _fmt(t["memory_turns_per_s"], 0),
                    _fmt(t["baseline_turns_per_s"], 0),
                    f"{t['ratio']:.0%}",
                ]
                for t in data["throughput"]
            ],
        )
    server = data.get("through_server")
    if server:
        measured["through the server"] = server["per_turn"]
        report.add(
            "The same through `python -m pais_server` (`bench/memory/bench_server_memory.py`): round trips per "
            "chat request counted by a proxy between PAIS and Redis, and chat throughput with Redis memory as a "
            "ratio to the same server with local memory.",
            "",
        )
        report.table(header, _round_trip_rows(server["per_turn"]))
        report.table(
            ["scenario", "clients", "Redis req/s", "local req/s", "ratio"],
            [
                [t["scenario"], str(t["connections"]), _fmt(t["redis"]["rps"], 0), _fmt(t["local"]["rps"], 0),
                 f"{t['ratio']:.0%}"]
                for t in server.get("throughput", [])
            ],
        )  # fmt: skip
    fig, ax = plt.subplots(figsize=(6, 3.4))
    width = 0.8 / len(measured)
    for i, (label, per_turn) in enumerate(measured.items()):
        first = per_turn[0]["round_trips_per_turn"]
        ratios = [_ratio(p["round_trips_per_turn"], first) for p in per_turn]
        ax.bar([j + i * width for j in range(len(per_turn))], ratios, width, label=label)
    sizes = [p["history_events"] for p in next(iter(measured.values()))]
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks([j + width * (len(measured) - 1) / 2 for j in range(len(sizes))])
    ax.set_xticklabels([f"{size} events in session" for size in sizes])
    ax.set_ylabel(f"round trips per turn / at {sizes[0]} events")
    ax.set_title("Redis round trips per turn vs history size")
    ax.legend(fontsize=8)
    report.save(fig, "redis_round_trips.png", "Redis round trips per turn")
    for label, per_turn in measured.items():
        trips = [p["round_trips_per_turn"] for p in per_turn]
        report.target(
            f"constant Redis round trips per turn ({label})",
            " / ".join(f"{p['round_trips_per_turn']:g} at {p['history_events']} events" for p in per_turn),
            max(trips) == min(trips),
            "memory",
        )


def _numbers(data: Json, path: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric leaf of a JSON document with its dotted path."""
    if isinstance(data, bool):
        return
    if isinstance(data, int | float):
        yield path, float(data)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numbers(value, f"{path}[{i}]")


def delegation_section(report: Report, data: Json) -> None:
    """Per-hop delegation cost; reads `per_hop_p50_ms` and, when present, `hops: [{hops, p50_ms, ...}]`."""
    report.add("Delegation cost per hop (`bench/delegation`), PAIS agents chained over loopback A2A/HTTP.", "")
    per_hop = data.get("per_hop_p50_ms")
    sequential = data.get("sequential")
    if per_hop is None and isinstance(sequential, dict):
        per_hop = sequential.get("hop_p50_ms")  # bench/delegation's own key
    if per_hop is None:
        per_hop = next((v for p, v in _numbers(data) if "hop" in p.lower() and "p50" in p.lower()), None)
    hops = data.get("hops")
    if isinstance(hops, list) and hops and isinstance(hops[0], dict):
        keys = [k for k in hops[0] if isinstance(hops[0][k], int | float)]
        report.table(keys, [[_fmt(float(h[k])) for k in keys] for h in hops])
        base_key = next((k for k in keys if "baseline" in k), None)
        if "hops" in keys and "p50_ms" in keys:
            fig, ax = plt.subplots(figsize=(6, 3.4))
            xs = [h["hops"] for h in hops]
            if base_key:
                ax.plot(xs, [_ratio(h["p50_ms"], h[base_key]) for h in hops], "o-")
                ax.set_ylabel(f"p50 / {base_key}")
            else:
                ax.plot(xs, [h["p50_ms"] for h in hops], "o-")
                ax.set_ylabel("p50 ms (no in-run baseline reported)")
            ax.set_xlabel("delegation hops")
            ax.set_title("Per-hop delegation cost")
            report.save(fig, "delegation.png", "per-hop delegation cost")
    report.target(
        "per-hop delegation p50 < 5 ms",
        "n/a" if per_hop is None else f"{per_hop:.2f} ms",
        None if per_hop is None else per_hop < 5.0,
        "delegation",
    )


def soak_section(report: Report, data: Json) -> None:
    report.add(
        f"`{SOAK_TEST}`: {data['replicas']} PAIS replicas sharing one Redis, {data['clients']} concurrent "
        f"clients for {data['seconds']:g} s (each owning a few sessions, alternating replicas turn by turn, "
        "a quarter of turns streamed). Afterwards every session's events are read back page by page.",
        "",
    )
    report.table(
        ["turns", "turns/s", "p50 ms", "p99 ms", "errors", "events checked", "lost/reordered sessions"],
        [
            [
                str(data["turns"]),
                _fmt(data["turns_per_s"], 1),
                _fmt(data["p50_ms"]),
                _fmt(data["p99_ms"]),
                str(data["errors"]),
                str(data["events_checked"]),
                str(data["event_problems"]),
            ]
        ],
    )
    rss = data["rss_mib"]
    report.table(
        ["replica", "RSS start MiB", "after warm-up", "end", "growth after warm-up"],
        [
            [
                name,
                _fmt(r["start"], 1),
                _fmt(r["after_warmup"], 1),
                _fmt(r["end"], 1),
                f"{r['end'] - r['after_warmup']:+.1f} MiB ({_ratio(r['end'], r['after_warmup']):.2f}x)",
            ]
            for name, r in rss.items()
        ],
    )
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, r in rss.items():
        ax.plot(
            ["start", "after warm-up", "end"],
            [1.0, r["after_warmup"] / r["start"], r["end"] / r["start"]],
            "o-",
            label=name,
        )
    ax.set_ylabel("RSS / RSS at start")
    ax.set_title("Soak: replica RSS (ratio to start)")
    ax.legend(fontsize=8)
    report.save(fig, "soak_rss.png", "soak RSS")
    report.target(
        f"soak: zero errors, zero lost or reordered events ({data['clients']} clients, {data['seconds']:g} s)",
        f"{data['errors']} errors, {data['event_problems']} bad sessions, {data['turns']} turns",
        data["errors"] == 0 and data["event_problems"] == 0,
        "soak",
    )


def telemetry_section(report: Report, data: Json) -> None:
    report.add(
        "Chat against `python -m pais_server` with telemetry off, on (every trace kept) and on with 10% of traces "
        "sampled, exporting traces, metrics and logs over OTLP/HTTP to a local receiver (`bench/telemetry`); and the "
        "floor: a hand-written FastAPI + Pydantic AI endpoint (`bench/telemetry/minimal_otel.py`) exporting the same "
        "signals with the OpenTelemetry SDK set up by hand, off and on. Servers on core 0; load generator, model and "
        "receiver on core 1; best of interleaved rounds; server CPU per request from /proc (all threads, exports "
        "included), median of rounds. Each server is compared with its own `off`.",
        "",
    )
    best, cpu = data["best"], data["server_cpu_ms_per_request_median"]
    throughput, cpu_ratio = data["throughput_ratio_vs_off"], data["server_cpu_ratio_vs_off"]
    report.table(
        ["server, telemetry", "req/s", "p50 ms", "p99 ms", "server CPU ms/request", "req/s vs off", "CPU vs off"],
        [
            [
                mode if mode.startswith("minimal") else f"PAIS {mode}",
                _fmt(r["throughput_rps"], 1),
                _fmt(r["p50_ms"]),
                _fmt(r["p99_ms"]),
                _fmt(cpu[mode]),
                f"{throughput[mode]:.0%}",
                f"{cpu_ratio[mode]:.2f}x",
            ]
            for mode, r in best.items()
        ],
    )
    ratio = data["throughput_ratio_on_off"]
    report.target(
        "telemetry on keeps >= 85% of throughput",
        f"{ratio:.0%} (the minimal endpoint with the same telemetry: {throughput['minimal on']:.0%})",
        ratio >= 0.85,
        "telemetry",
    )


def generic_section(report: Report, data: Json) -> None:
    numbers = list(_numbers(data))
    report.table(["measure", "value"], [[p, _fmt(v, 3)] for p, v in numbers[:30]])
    if len(numbers) > 30:
        report.add(f"({len(numbers) - 30} more values in the JSON file)", "")


SECTIONS: dict[str, tuple[str, Callable[[Report, Json], None]]] = {
    "server": ("Chat throughput, latency, start-up and memory footprint", server_section),
    "memory": ("Redis memory: round trips per turn", memory_section),
    "delegation": ("Delegation: cost per hop", delegation_section),
    "soak": ("Load and soak: 2 replicas + Redis", soak_section),
    "telemetry": ("Telemetry overhead", telemetry_section),
}
REQUIRED = ("server", "memory", "delegation", "soak")


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def render(results: dict[str, Json], runs: list[Run], *, total_seconds: float | None) -> Path:
    """Write `docs/performance/report.md` and its figures from `results` (by JSON file stem)."""
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    body = Report()
    order = [*SECTIONS, *sorted(set(results) - set(SECTIONS))]
    for name in order:
        title, section = SECTIONS.get(name, (f"Other: `{name}`", generic_section))
        if name not in results and name not in REQUIRED:
            continue
        body.add(f"## {title}", "")
        if name not in results:
            body.add(f"Not measured: no fresh `bench/results/{name}.json` (benchmark missing or failed).", "")
            if name == "delegation":
                body.target("per-hop delegation p50 < 5 ms", "n/a", None, name)
            continue
        try:
            section(body, results[name])
        except (KeyError, TypeError, ValueError, IndexError, StopIteration, AttributeError) as exc:
            body.add(f"Not measured: `bench/results/{name}.json` has an unexpected shape ({exc!r}).", "")
    if "server" not in results:
        for target in (
            "throughput at 16 clients >= 90% of minimal",
            "start->ready <= 1.2x minimal",
            "idle RSS <= 1.3x minimal",
        ):
            body.target(target, "n/a", None, "server")

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    head = Report()
    head.add(
        "# PAIS performance report",
        "",
        f"Generated by `uv run python bench/report/run_report.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"commit `{_git_commit()}`, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} when written"
        + (f", whole run {total_seconds / 60:.1f} min" if total_seconds is not None else "")
        + ".",
        "",
        "Every number is compared with a baseline measured in the same run on the same machine, so "
        "the ratios hold even when absolute numbers are noisy (this machine is shared; absolute numbers "
        "are not comparable between runs).",
        "",
        "## Targets",
        "",
    )
    head.table(["target", "measured", "verdict", "section"], [list(row) for row in body.targets])
    if runs:
        head.add("## Benchmarks run", "")
        head.table(["benchmark", "status", "seconds"], [[r.name, r.status, f"{r.seconds:.0f}"] for r in runs])
    path = OUT / "report.md"
    path.write_text("\n".join([*head.lines, *body.lines]).rstrip() + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render-only", action="store_true", help="only redraw from bench/results/*.json")
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="soak duration; 0 skips the soak")
    parser.add_argument("--budget", type=float, default=1000.0, help="seconds for all benchmarks together")
    args = parser.parse_args()

    started_wall, started = time.time(), time.perf_counter()
    if args.render_only:
        saved: dict[str, Any] = json.loads(RUNS.read_text()) if RUNS.exists() else {"runs": [], "seconds": None}
        runs, total = [Run(**run) for run in saved["runs"]], saved["seconds"]
    else:
        runs = run_all(budget=args.budget, soak_seconds=args.soak_seconds)
        total = time.perf_counter() - started
        RUNS.write_text(json.dumps({"runs": [asdict(run) for run in runs], "seconds": total}))
    results = load_results(None if args.render_only else started_wall)
    path = render(results, runs, total_seconds=total)
    print(f"report: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
