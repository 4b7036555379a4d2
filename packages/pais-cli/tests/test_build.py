"""`pais build`: the dry run shows the exact Dockerfile and commands; the Dockerfile lints, extends the
PAIS base image, and adds exactly the project's own dependencies to it."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from pais_testing.cli import bare_env, pais, pais_init
from pais_testing.dockerfile import parse_dockerfile, run_stage
from pais_testing.ports import free_port, wait_for_http
from pais_testing.process import ManagedProcess

HADOLINT = str(Path(sys.executable).with_name("hadolint"))
REPO_ROOT = Path(__file__).resolve().parents[3]
BASE_IMAGE = f"pais-server:{importlib.metadata.version('pais-core')}"
NO_ENGINE = "unix:///nonexistent/docker.sock"
# uv runs with the caller's settings (index, certificates, cache) but outside any active virtualenv.
UV_ENV = {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}


class DryRun(NamedTuple):
    header: str
    dockerfile: str
    base: list[str]
    commands: list[str]


def dry_run(*args: str, cwd: Path) -> DryRun:
    """`pais build ARGS --dry-run` without a reachable Docker engine, split into its sections."""
    result = pais("build", *args, "--dry-run", cwd=cwd, env=bare_env(DOCKER_HOST=NO_ENGINE))
    assert result.returncode == 0, result.stderr
    header, _, rest = result.stdout.partition("\n")
    dockerfile, _, rest = rest.partition("\n# Base image: ")
    base, _, commands = rest.partition("# Commands:\n")
    return DryRun(
        header,
        dockerfile.rstrip("\n") + "\n",
        base.splitlines(),
        [line.removeprefix("$ ") for line in commands.splitlines()],
    )


def test_dry_run_reuses_the_dockerfile_and_prints_every_command(demo_project: Path) -> None:
    shown = dry_run(
        "--name", "my-agent", "--tag", "v1", "--platform", "linux/arm64",
        "--base-image", "pais-server:dev", "--kind-load", "--kind-cluster", "kaos",
        cwd=demo_project,
    )  # fmt: skip
    assert shown.header == f"# Dockerfile: {demo_project / 'Dockerfile'} (existing, reused)"
    assert shown.dockerfile == (demo_project / "Dockerfile").read_text()
    assert shown.base == [
        "pais-server:dev",
        "# Not found in a local Docker engine; build it first:",
        f"#   docker build --tag pais-server:dev {REPO_ROOT}",
    ]
    assert shown.commands == [
        f"uv lock --directory {demo_project}",
        f"docker build --tag my-agent:v1 --file {demo_project / 'Dockerfile'} --platform linux/arm64 "
        f"--build-arg PAIS_BASE_IMAGE=pais-server:dev {demo_project}",
        "kind load docker-image my-agent:v1 --name kaos",
    ]


def test_dry_run_without_a_dockerfile_shows_the_one_it_would_write(tmp_path: Path) -> None:
    project = pais_init(tmp_path, "agent-two")
    (project / "Dockerfile").unlink()
    shown = dry_run("--dir", str(project), cwd=tmp_path)
    assert shown.header.endswith("(would be written)")
    assert "AGENT_NAME=agent-two" in shown.dockerfile
    assert shown.base[0] == BASE_IMAGE  # the running PAIS version's base image
    assert shown.commands[1].startswith("docker build --tag agent-two:dev ")
    assert "--build-arg" not in shown.commands[1]
    assert not (project / "Dockerfile").exists()


def test_dry_run_writes_a_given_base_image_into_a_new_dockerfile(tmp_path: Path) -> None:
    project = pais_init(tmp_path, "agent-three")
    (project / "Dockerfile").unlink()
    shown = dry_run("--base-image", "registry.example/pais-server:0.1.0", cwd=project)
    assert "\nARG PAIS_BASE_IMAGE=registry.example/pais-server:0.1.0\n" in shown.dockerfile
    assert shown.base[0] == "registry.example/pais-server:0.1.0"


def test_generated_dockerfile_passes_hadolint(demo_project: Path) -> None:
    lint = subprocess.run([HADOLINT, "Dockerfile"], cwd=demo_project, capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_dockerfile_extends_the_pais_base_image(demo_project: Path) -> None:
    text = (demo_project / "Dockerfile").read_text()
    instructions = parse_dockerfile(text)
    assert f"\nARG PAIS_BASE_IMAGE={BASE_IMAGE}\n" in text
    assert [i.arguments for i in instructions if i.keyword == "FROM"] == [
        "${UV_IMAGE} AS uv",
        "${PAIS_BASE_IMAGE} AS agent",
    ]
    install = next(i.arguments for i in instructions if i.keyword == "RUN" and "uv export" in i.arguments)
    words = shlex.split(install)
    excluded = {words[i + 1] for i, word in enumerate(words) if word == "--no-emit-package"}
    assert excluded == {p.name for p in (REPO_ROOT / "packages").glob("pais-*")}  # every PAIS package
    assert [i.arguments for i in instructions if i.keyword == "USER"][-1] == "10001:10001"
    assert "os.environ.get('AGENT_PORT', '8000')" in text  # the health check follows AGENT_PORT
    assert instructions[-1].arguments == '["pais", "run", "server.py", "--host", "0.0.0.0"]'


# `word_table` uses the project's own dependency, tabulate, which the PAIS base image does not have.
TABULATE_TOOL = '''

from tabulate import tabulate


@agent.tool_plain
def word_table(text: str) -> str:
    """The words of a text as a table.

    Args:
        text: The text.
    """
    return tabulate([[word] for word in text.split()], headers=["word"], tablefmt="plain")
'''
# A package of the base image's virtualenv (httpx needs it) and a release of it newer than any real one.
BASE_PACKAGE = "certifi"
NEWER = "9999.0"


@dataclass(frozen=True)
class HostImage:
    """The demo project's image, built on the host: the base image's build stage, then the project's stage."""

    root: Path
    venv: Path
    command: list[str]  # the image's CMD
    base: dict[str, str]  # the base venv's distributions, name -> version, before the project's stage
    changed: set[str]  # base venv files the project's stage added or changed, relative to site-packages
    env: dict[str, str]  # uv's environment: the package index plus a newer release of BASE_PACKAGE


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.rglob("*")}


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def _installed(venv: Path) -> dict[str, str]:
    """Name (normalised) -> version of every distribution in a virtualenv."""
    return {
        re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version
        for d in importlib.metadata.distributions(path=[str(_site(venv))])
    }


def _write_release(directory: Path, name: str, release: str) -> None:
    """A metadata-only wheel of `name` `release` (no modules: installing it by mistake breaks imports loudly)."""
    info = f"{name}-{release}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {release}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: pais-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
        f"{len(text.encode())}"
        for path, text in files.items()
    ]
    with zipfile.ZipFile(directory / f"{name}-{release}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
        wheel.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")


def _lock(project: Path, env: dict[str, str]) -> dict[str, str]:
    """`pais build`'s lock step; returns the lock's versions (name -> version)."""
    command = shlex.split(dry_run(cwd=project).commands[0])
    locked = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert locked.returncode == 0, locked.stderr
    packages = tomllib.loads((project / "uv.lock").read_text())["package"]
    return {package["name"]: package["version"] for package in packages if "version" in package}


@pytest.fixture(scope="module")
def host_image(tmp_path_factory: pytest.TempPathFactory) -> HostImage:
    parent = tmp_path_factory.mktemp("image")
    # The registry as it may look any day: a release newer than the base image's for one of its packages.
    links = parent / "newer-releases"
    links.mkdir()
    _write_release(links, BASE_PACKAGE, NEWER)
    env = {**UV_ENV, "UV_FIND_LINKS": str(links)}
    project = pais_init(parent, "demo", "--pais-source", str(REPO_ROOT))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pais-cli==', '"tabulate==0.9.0",\n    "pais-cli=='))
    (project / "server.py").write_text((project / "server.py").read_text() + TABULATE_TOOL)
    (project / ".env").write_text("MODEL_API_KEY=secret\n")  # .dockerignore keeps it out
    assert _lock(project, env)[BASE_PACKAGE] == NEWER  # the project's lock disagrees with the base image

    root = parent / "root"
    venv = root / "opt/pais"
    run_stage(
        (REPO_ROOT / "Dockerfile").read_text(), stage="build", context=REPO_ROOT, root=root,
        env=UV_ENV, overrides={"UV_COMPILE_BYTECODE": "0"},
    )  # fmt: skip
    base = _installed(venv)
    site = _site(venv)
    before = _snapshot(site)
    run_stage(
        (project / "Dockerfile").read_text(), stage="agent", context=project, root=root,
        env={**env, "VIRTUAL_ENV": str(venv)},
    )  # fmt: skip
    after = _snapshot(site)
    command = json.loads(parse_dockerfile((project / "Dockerfile").read_text())[-1].arguments)
    changed = {path for path, state in after.items() if before.get(path) != state}
    return HostImage(root, venv, command, base, changed, env)


def test_base_image_constraints_pin_every_package_of_its_virtualenv(host_image: HostImage) -> None:
    lines = (host_image.venv / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines)
    assert len(pins) == len(lines)  # one `name==version` line per distribution
    assert pins == host_image.base  # every distribution of the base venv, the PAIS packages included
    assert {"pais-server", "pais-cli", "pydantic-ai-slim", BASE_PACKAGE} <= pins.keys()


@pytest.mark.timeout(300)
def test_image_adds_only_the_projects_own_dependencies_to_the_base_venv(host_image: HostImage) -> None:
    python = str(host_image.venv / "bin/python")
    assert host_image.changed  # tabulate went into the base image's virtualenv ...
    assert {path.split("/")[0].split("-")[0].removesuffix(".py") for path in host_image.changed} == {"tabulate"}
    # ... and nothing else changed: the PAIS packages (and everything they need) stay as the base installed them,
    # although the project's lock and the index offer a newer release of one of them.
    assert _installed(host_image.venv) == {**host_image.base, "tabulate": "0.9.0"}
    app = host_image.root / "app"
    check = subprocess.run(
        [python, "-c", "import json, server, tabulate, pais_server; print(json.dumps(server.agent.name))"],
        cwd=app, env=bare_env(), capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout) == "demo"
    dev_only = subprocess.run([python, "-c", "import pytest"], capture_output=True, check=False)
    assert dev_only.returncode != 0  # --no-dev: the dev group stays out of the image
    assert (app / "server.py").is_file()
    assert not (app / ".env").exists()


@pytest.mark.timeout(300)
def test_a_requirement_the_base_image_cannot_meet_fails_the_build_naming_the_package(
    host_image: HostImage, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = pais_init(tmp_path, "clash", "--pais-source", str(REPO_ROOT))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pais-cli==', f'"{BASE_PACKAGE}>={NEWER}",\n    "pais-cli=='))
    assert _lock(project, host_image.env)[BASE_PACKAGE] == NEWER
    root = tmp_path / "root"
    venv = root / "opt/pais"
    shutil.copytree(host_image.venv, venv, symlinks=True)  # a copy of the image's venv: this build must fail
    before = _snapshot(_site(venv))
    with pytest.raises(subprocess.CalledProcessError):
        run_stage(
            (project / "Dockerfile").read_text(), stage="agent", context=project, root=root,
            env={**host_image.env, "VIRTUAL_ENV": str(venv)},
        )  # fmt: skip
    error = capfd.readouterr().err
    pinned = f"{BASE_PACKAGE}=={host_image.base[BASE_PACKAGE]}"
    assert f"{BASE_PACKAGE}>={NEWER}" in error, error
    assert pinned in error, error
    assert "the project's dependencies do not fit the PAIS base image's pinned versions" in error
    assert _snapshot(_site(venv)) == before  # nothing installed, nothing changed


@pytest.mark.timeout(300)
def test_image_command_serves_the_agent_on_agent_port(host_image: HostImage) -> None:
    port = free_port()
    executable, *args = host_image.command
    command = [  # the image's CMD from the base image's virtualenv, on loopback
        str(host_image.venv / "bin" / executable),
        *({"0.0.0.0": "127.0.0.1"}.get(word, word) for word in args),
    ]
    env = bare_env(AGENT_PORT=str(port), MODEL_NAME="test")  # TestModel: the answer shows the tool results
    env["PATH"] = f"{host_image.venv / 'bin'}{os.pathsep}{env['PATH']}"
    process = ManagedProcess(command, env=env, cwd=host_image.root / "app").start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=90)
        answer = pais("invoke", f"http://127.0.0.1:{port}", "-m", "hello brave world", cwd=host_image.root)
    finally:
        process.stop()
    assert answer.returncode == 0, answer.stderr + process.output()
    assert json.loads(answer.stdout) == {"count_words": 1, "word_table": "word\na"}


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


# A Docker CLI whose engine answers but has no PAIS base image and cannot pull one (no engine runs here).
DOCKER_WITHOUT_BASE = """#!/bin/sh
echo "$*" >> "$DOCKER_CALLS"
case "$1 $2" in
  "info --format") echo 27.0.0 ;;
  "image inspect") echo "Error: No such image: $3" >&2; exit 1 ;;
  "pull "*) echo "Error response from daemon: pull access denied for $2" >&2; exit 1 ;;
  *) exit 99 ;;
esac
"""


def test_build_without_the_base_image_says_how_to_build_it(tmp_path: Path) -> None:
    project = pais_init(tmp_path, "agent-four")
    (project / "Dockerfile").unlink()
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "docker").write_text(DOCKER_WITHOUT_BASE)
    (tools / "docker").chmod(0o755)
    uv = shutil.which("uv")
    assert uv is not None
    (tools / "uv").symlink_to(uv)
    calls = tmp_path / "docker-calls"
    result = pais("build", cwd=project, env=bare_env(PATH=str(tools), DOCKER_CALLS=str(calls)))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: the PAIS base image {BASE_IMAGE} is not in the Docker engine and cannot be pulled: "
        f"build it first (docker build --tag {BASE_IMAGE} {REPO_ROOT}) or choose another with --base-image"
    )
    assert calls.read_text().splitlines() == [
        "info --format {{.ServerVersion}}",
        f"image inspect {BASE_IMAGE}",
        f"pull {BASE_IMAGE}",
    ]
    assert not (project / "Dockerfile").exists()  # stopped before changing anything


def test_build_rejects_a_bad_tag_and_a_non_project(demo_project: Path, tmp_path: Path) -> None:
    bad_tag = pais("build", "--tag", "v 1", "--dry-run", cwd=demo_project)
    assert bad_tag.returncode == 1
    assert bad_tag.stderr.startswith("Error: invalid tag 'v 1'")
    empty = pais("build", "--dry-run", cwd=tmp_path)
    assert empty.returncode == 1
    assert "has no pyproject.toml" in empty.stderr
