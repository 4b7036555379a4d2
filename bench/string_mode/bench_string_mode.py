"""String-mode tool calling with SmolLM2-135M: constrained output against free text, side by side.

Serves SmolLM2 with llama.cpp (llama-cpp-python) on loopback and asks the weather question of
`pais_testing.weather_tool` for each city, alternating the two variants so both see the same machine
load. Reports per variant the success rate (tool called with valid arguments, its result in the
answer), the rate of exact arguments, the mean time to the tool call and the mean run time, and the
ratio of constrained to free-text latency. Stops starting cases when the time budget is spent.

    .venv/bin/python bench/string_mode/bench_string_mode.py [--cities N] [--budget SECONDS]

Writes bench/results/string_mode.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from pais_testing.smollm2 import MODEL_ALIAS, SmolLM2Server  # noqa: E402
from pais_testing.weather_tool import CITIES, CaseResult, WeatherScenario  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402

from pais_server.tools._string_mode import ConstrainedOutput, StringModeModel  # noqa: E402

VARIANTS: dict[str, ConstrainedOutput] = {"constrained": "auto", "free text": "off"}


def _summary(results: list[CaseResult], response_format: str) -> dict[str, Any]:
    first_calls = [r.first_call_seconds for r in results if r.first_call_seconds is not None]
    return {
        "runs": len(results),
        "response_format": response_format,
        "success": sum(r.ok for r in results),
        "success_rate": sum(r.ok for r in results) / len(results) if results else 0.0,
        "exact_arguments": sum(r.exact_arguments for r in results),
        "tool_called": len(first_calls),
        "mean_seconds_to_tool_call": statistics.mean(first_calls) if first_calls else None,
        "mean_seconds_per_run": statistics.mean(r.seconds for r in results) if results else None,
        "cases": [
            {"city": r.city, "ok": r.ok, "calls": r.calls, "seconds": round(r.seconds, 2), "output": r.output[:200]}
            for r in results
        ],
    }


def _cell(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


async def _bench(url: str, cities: int, budget: float) -> dict[str, Any]:
    deadline = time.monotonic() + budget
    results: dict[str, list[CaseResult]] = {name: [] for name in VARIANTS}
    async with OpenAIChatModel(MODEL_ALIAS, provider=OpenAIProvider(base_url=url, api_key="none")) as chat:
        models = {name: StringModeModel(chat, constrained=form) for name, form in VARIANTS.items()}
        scenarios = {name: WeatherScenario(model) for name, model in models.items()}
        for city in CITIES[:cities]:
            if time.monotonic() > deadline:
                break
            for name, scenario in scenarios.items():
                results[name].append(await scenario.run(city))
        return {name: _summary(results[name], models[name].response_format) for name in VARIANTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cities", type=int, default=len(CITIES), help="cases per variant (max 10)")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds after which no new case starts")
    args = parser.parse_args()

    started = time.monotonic()
    with SmolLM2Server() as server:
        assert isinstance(server, SmolLM2Server)
        summary = asyncio.run(_bench(server.url, args.cities, args.budget))
    elapsed = time.monotonic() - started

    rows = [
        ("runs", lambda s: str(s["runs"])),
        ("response_format", lambda s: s["response_format"]),
        ("success (tool result in answer)", lambda s: f"{s['success']}/{s['runs']} ({s['success_rate']:.0%})"),
        ("tool called", lambda s: f"{s['tool_called']}/{s['runs']}"),
        ("exact city argument", lambda s: f"{s['exact_arguments']}/{s['runs']}"),
        ("mean s to tool call", lambda s: _cell(s["mean_seconds_to_tool_call"], "{:.2f}")),
        ("mean s per run", lambda s: _cell(s["mean_seconds_per_run"], "{:.2f}")),
    ]
    names = list(VARIANTS)
    print(f"{'SmolLM2-135M string mode':34}" + "".join(f"{name:>18}" for name in names))
    for label, render in rows:
        print(f"{label:34}" + "".join(f"{render(summary[name]):>18}" for name in names))
    constrained, free = (summary[name]["mean_seconds_per_run"] for name in names)
    ratio = constrained / free if constrained and free else None
    print(f"{'latency ratio constrained/free':34}{_cell(ratio, '{:.2f}'):>18}")
    print(f"total {elapsed:.0f}s")

    out = ROOT / "bench" / "results" / "string_mode.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": MODEL_ALIAS, "elapsed_seconds": round(elapsed, 1), "latency_ratio": ratio, "variants": summary}
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
