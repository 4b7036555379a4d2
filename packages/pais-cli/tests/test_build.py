"""`pais build`: the dry run shows the exact Dockerfile and commands; the Dockerfile lints and installs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pais_testing.cli import bare_env, pais, pais_init
from pais_testing.dockerfile import run_stage

HADOLINT = str(Path(sys.executable).with_name("hadolint"))
REPO_ROOT = Path(__file__).resolve().parents[3]


def dry_run_sections(output: str) -> tuple[str, str, list[str]]:
    """(header line, Dockerfile text, commands) of `pais build --dry-run` output."""
    header, _, rest = output.partition("\n")
    dockerfile, _, commands = rest.partition("\n# Commands:\n")
    return header, dockerfile.rstrip("\n") + "\n", [line.removeprefix("$ ") for line in commands.splitlines()]


def test_dry_run_reuses_the_dockerfile_and_prints_every_command(demo_project: Path) -> None:
    result = pais(
        "build", "--name", "my-agent", "--tag", "v1", "--platform", "linux/arm64",
        "--base-image", "python:3.12-slim", "--kind-load", "--kind-cluster", "kaos", "--dry-run",
        cwd=demo_project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, dockerfile, commands = dry_run_sections(result.stdout)
    assert header == f"# Dockerfile: {demo_project / 'Dockerfile'} (existing, reused)"
    assert dockerfile == (demo_project / "Dockerfile").read_text()
    assert commands == [
        f"uv lock --directory {demo_project}",
        f"docker build --tag my-agent:v1 --file {demo_project / 'Dockerfile'} --platform linux/arm64 "
        f"--build-arg BASE_IMAGE=python:3.12-slim {demo_project}",
        "kind load docker-image my-agent:v1 --name kaos",
    ]


def test_dry_run_without_a_dockerfile_shows_the_one_it_would_write(tmp_path: Path) -> None:
    project = pais_init(tmp_path, "agent-two")
    (project / "Dockerfile").unlink()
    result = pais("build", "--dir", str(project), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header, dockerfile, commands = dry_run_sections(result.stdout)
    assert header.endswith("(would be written)")
    assert "AGENT_NAME=agent-two" in dockerfile
    assert commands[1].startswith("docker build --tag agent-two:dev ")
    assert not (project / "Dockerfile").exists()


def test_generated_dockerfile_passes_hadolint(demo_project: Path) -> None:
    lint = subprocess.run([HADOLINT, "Dockerfile"], cwd=demo_project, capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_dockerfile_has_the_runtime_contract(demo_project: Path) -> None:
    text = (demo_project / "Dockerfile").read_text()
    assert text.count("\nFROM ") == 2  # multi-stage
    assert "uv sync --locked --no-dev" in text
    assert "\nUSER 10001\n" in text
    assert "AGENT_PORT=8000" in text
    assert "os.environ.get('AGENT_PORT', '8000') + '/health'" in text
    assert text.rstrip().endswith('CMD ["pais", "run", "server.py", "--host", "0.0.0.0"]')


@pytest.fixture(scope="module")
def pais_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Wheels of every PAIS package as a uv find-links directory: PAIS as if it were on the package index."""
    wheels = tmp_path_factory.mktemp("wheels")
    built = subprocess.run(
        ["uv", "build", "--all-packages", "--wheel", "--out-dir", str(wheels)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return {**os.environ, "UV_FIND_LINKS": str(wheels)}


@pytest.mark.timeout(600)
def test_dockerfile_build_stage_installs_the_locked_dependencies(tmp_path: Path, pais_index: dict[str, str]) -> None:
    project = pais_init(tmp_path, "demo")
    _, dockerfile, commands = dry_run_sections(pais("build", "--dry-run", cwd=project).stdout)
    lock = subprocess.run(shlex.split(commands[0]), env=pais_index, capture_output=True, text=True, check=False)
    assert lock.returncode == 0, lock.stderr
    root = tmp_path / "image"
    run_stage(dockerfile, stage="builder", context=project, root=root, env=pais_index)

    app = root / "app"
    assert (app / "server.py").is_file()
    assert (app / ".venv/bin/pais").is_file()  # the CMD's executable
    check = subprocess.run(
        [str(app / ".venv/bin/python"), "-c", "import pais_server, server; print(server.agent.name)"],
        cwd=app, env=bare_env(), capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "demo"
    dev_only = subprocess.run([str(app / ".venv/bin/python"), "-c", "import pytest"], capture_output=True, check=False)
    assert dev_only.returncode != 0  # --no-dev: the dev group stays out of the image


def test_build_without_a_docker_engine_fails_clearly(demo_project: Path) -> None:
    env = bare_env(DOCKER_HOST="unix:///nonexistent/docker.sock")
    result = pais("build", "--name", "demo", "--tag", "v1", cwd=demo_project, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no Docker engine is reachable")
    assert "--dry-run" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_without_docker_installed_says_so(demo_project: Path, tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    uv = shutil.which("uv")
    assert uv is not None
    (tools / "uv").symlink_to(uv)
    result = pais("build", cwd=demo_project, env={"PATH": str(tools)})
    assert result.returncode == 1
    assert result.stderr.startswith("Error: docker not found on PATH")


def test_build_rejects_a_bad_tag_and_a_non_project(demo_project: Path, tmp_path: Path) -> None:
    bad_tag = pais("build", "--tag", "v 1", "--dry-run", cwd=demo_project)
    assert bad_tag.returncode == 1
    assert bad_tag.stderr.startswith("Error: invalid tag 'v 1'")
    empty = pais("build", "--dry-run", cwd=tmp_path)
    assert empty.returncode == 1
    assert "has no pyproject.toml" in empty.stderr
