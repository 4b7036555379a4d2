"""CLI start-up: `pais --help` against `python -c pass` (the interpreter's own start-up).

Runs each command `--repeat` times (after one warm-up run), prints the medians and their ratio,
and also times `pais run --help`, which must stay as light as `pais --help`: commands import the
server stack only when they run.

    uv run python bench/cli/bench_cli_startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import median, save

PAIS = str(Path(sys.executable).with_name("pais"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "pais --help": [PAIS, "--help"],
    "pais run --help": [PAIS, "run", "--help"],
    "python -c 'import pais_server'": [sys.executable, "-c", "import pais_server"],
}


def seconds(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="runs per command (median reported)")
    args = parser.parse_args()

    medians: dict[str, float] = {}
    for name, argv in COMMANDS.items():
        seconds(argv)  # warm-up: page cache and .pyc files
        medians[name] = median([seconds(argv) for _ in range(args.repeat)])
    baseline = medians["python -c pass"]
    print(f"{'command':<34}{'median ms':>10}{'x python':>10}")
    for name, value in medians.items():
        print(f"{name:<34}{value * 1000:>10.1f}{value / baseline:>10.1f}")
    path = save(
        "cli",
        {
            "repeat": args.repeat,
            "median_seconds": medians,
            "ratio_to_python": {name: value / baseline for name, value in medians.items()},
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
