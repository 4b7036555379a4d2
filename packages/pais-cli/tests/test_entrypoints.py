"""The `pais` script and `python -m pais_cli`; `--help` imports no server stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pais_testing.cli import bare_env, pais

import pais_core

HEAVY = ("pais_server", "pydantic_ai", "fastapi", "uvicorn", "httpx", "pydantic")


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = pais("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("init", "run", "build", "invoke", "card", "sessions", "events", "model"):
        assert f" {command} " in result.stdout
    bare = pais(cwd=tmp_path)  # no_args_is_help
    assert "Usage: pais" in bare.stdout + bare.stderr


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pais_cli", "--version"], env=bare_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pais {pais_core.__version__}"


def test_help_imports_no_server_stack(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pais_cli", "--help"],
        env=bare_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "pais_cli" in imported
    assert not imported & set(HEAVY), imported & set(HEAVY)
