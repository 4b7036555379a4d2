"""Run the `pais` command as a real subprocess, with no environment beyond PATH unless asked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from .ports import free_port, wait_for_http
from .process import ManagedProcess

__all__ = ["PAIS", "StartAgent", "bare_env", "pais", "pais_init", "pais_run"]

PAIS = str(Path(sys.executable).with_name("pais"))

StartAgent = Callable[..., str]
"""A fixture's `start(*args, cwd=, env=)`: `pais_run` whose process the fixture stops; returns the base URL."""


def bare_env(**extra: str) -> dict[str, str]:
    """PATH and HOME only (HOME locates uv's cache): what a new user's shell gives `pais`."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **extra}


def pais(
    *args: str, cwd: str | Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `pais ARGS` to completion and capture its output."""
    return subprocess.run(
        [PAIS, *args],
        cwd=cwd,
        env=dict(env) if env is not None else bare_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pais_init(parent: Path, name: str = "demo", *extra: str) -> Path:
    """`pais init NAME EXTRA...` in `parent`; returns the new project's directory."""
    result = pais("init", name, *extra, cwd=parent)
    if result.returncode != 0:
        raise RuntimeError(f"pais init failed ({result.returncode}):\n{result.stderr}")
    return parent / name


def pais_run(*args: str, cwd: str | Path, env: Mapping[str, str] | None = None) -> tuple[ManagedProcess, str]:
    """Start `pais run ARGS --port <free>` and wait until `/health` answers; returns the process and base URL.

    The process is already started: the caller calls its `stop()`.
    """
    port = free_port()
    process = ManagedProcess([PAIS, "run", *args, "--port", str(port)], env=env or bare_env(), cwd=cwd).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", timeout=90)
    except TimeoutError:
        process.stop()
        raise RuntimeError(f"pais run did not start:\n{process.output()}") from None
    return process, url
