"""CPU instructions from process start to a ready server: PAIS vs the minimal FastAPI + agent.run endpoint.

`bench_chat.py` times start->ready of real uvicorn processes, but on a shared VM a core's speed drifts
by 20-30%, so a few starts cannot resolve a 5% difference. Instructions executed do not drift: this
benchmark runs what `python -m uvicorn --factory apps:<app>` runs (uvicorn's CLI module, `Config.load()`
calling the factory, the lifespan start-up, a listening socket on loopback, one `GET /health` over
HTTP) under valgrind's cachegrind, and counts instructions up to the built app and up to the answered
probe. The process then exits at once, so interpreter teardown is not counted. Python's start, uvicorn,
FastAPI and Pydantic AI are in both counts; the difference is what PAIS adds.

    apt-get install valgrind
    uv run python bench/server/bench_startup_instructions.py
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import uvicorn
from uvicorn._compat import asyncio_run  # what `uvicorn.Server.run` runs its event loop with

HERE = Path(__file__).resolve().parent
APPS = {"minimal": "apps:minimal_app", "pais": "apps:pais_app"}
PHASES = ("app", "ready")


async def _ready(server: uvicorn.Server) -> None:
    await server.startup()
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /health HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
    status = (await reader.readline()).decode()
    if " 200 " not in status:
        raise RuntimeError(f"/health answered {status!r}")
    os._exit(0)  # ready: leave before the event loop and the lifespan tear down


def drive(factory: str, phase: str) -> None:
    """Do what `python -m uvicorn --factory` does up to `phase`, then leave without teardown."""
    importlib.import_module("uvicorn.main")  # the CLI module `python -m uvicorn` runs
    sys.path.insert(0, str(HERE))  # uvicorn's --app-dir
    config = uvicorn.Config(factory, factory=True, host="127.0.0.1", port=0, access_log=False, log_level="warning")
    config.load()
    if phase == "ready":
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        asyncio_run(_ready(server), loop_factory=config.get_loop_factory())
    sys.stdout.flush()
    os._exit(0)


# Deployed servers load compiled bytecode; a process that compiles its modules would count the compiler.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def instructions(factory: str, phase: str) -> int:
    """Instructions valgrind counts for a process that goes through start-up up to `phase`."""
    from _harness import count_instructions

    argv = [sys.executable, __file__, "--drive", factory, "--phase", phase]
    subprocess.run(argv, check=True, cwd=HERE, env=ENV)  # writes any missing bytecode
    return count_instructions(argv, cwd=HERE, env=ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drive", metavar="FACTORY", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=PHASES, default="ready", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(args.drive, args.phase)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    sys.path.insert(0, str(HERE.parent))  # only here: the counted processes must not import the harness
    from _harness import save

    counts = {(name, phase): instructions(factory, phase) for name, factory in APPS.items() for phase in PHASES}
    print("\nCPU instructions from process start (uvicorn --factory, one valgrind run each)")
    print(f"{'phase':<24} {'minimal M':>10} {'pais M':>10} {'pais extra M':>13} {'ratio':>7}")
    for phase, label in zip(PHASES, ("app built", "ready (/health answered)"), strict=True):
        minimal, pais = counts[("minimal", phase)], counts[("pais", phase)]
        extra = (pais - minimal) / 1e6
        print(f"{label:<24} {minimal / 1e6:>10.1f} {pais / 1e6:>10.1f} {extra:>13.1f} {pais / minimal:>6.3f}x")
    ratios = {phase: counts[("pais", phase)] / counts[("minimal", phase)] for phase in PHASES}
    data = {"instructions": {f"{name}.{phase}": count for (name, phase), count in counts.items()}, "ratio": ratios}
    print(f"results: {save('server_startup_instructions', data)}")


if __name__ == "__main__":
    main()
