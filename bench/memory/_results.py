"""bench/results/memory.json, shared by the memory benchmarks: each one updates its own keys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "memory.json"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def merge_results(data: dict[str, Any]) -> Path:
    """Write `data`'s keys into bench/results/memory.json, keeping the keys other runs wrote."""
    existing: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**existing, "benchmark": "memory", **data}, indent=2, default=_plain) + "\n")
    return RESULTS
