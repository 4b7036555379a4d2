"""`pais build`: lock, build the image with the Docker engine, and load it into kind."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import CliError
from ._scaffold import default_base_image, dockerfile, dockerignore

__all__ = ["BuildPlan", "plan_build", "run_build", "show_plan"]

_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_BASE_ARG = re.compile(r"^ARG\s+PAIS_BASE_IMAGE=(\S+)\s*$", re.MULTILINE)
_INSTALL_HINTS = {
    "uv": "install uv (https://docs.astral.sh/uv/) to lock the project's dependencies",
    "docker": "install Docker (or a compatible engine) to build images; pais build --dry-run shows the plan",
    "kind": "install kind (https://kind.sigs.k8s.io/) or drop --kind-load",
}


@dataclass(frozen=True)
class BuildPlan:
    """Everything `pais build` will do, so that `--dry-run` can show it exactly."""

    directory: Path
    image: str
    base_image: str
    dockerfile: Path
    dockerfile_text: str
    write_dockerfile: bool
    commands: list[list[str]] = field(default_factory=list[list[str]])


def plan_build(
    directory: Path,
    *,
    name: str | None,
    tag: str,
    platform: str | None,
    base_image: str | None,
    kind_load: bool,
    kind_cluster: str | None,
) -> BuildPlan:
    """Work out the image reference, the Dockerfile (existing or new) and the commands.

    Raises:
        CliError: not a project directory, or an invalid image name or tag.
    """
    directory = directory.resolve()
    if not (directory / "pyproject.toml").is_file():
        raise CliError(f"{directory} has no pyproject.toml: run pais build in a project made by pais init (or --dir)")
    name = name or directory.name.lower()
    if not _IMAGE_NAME.match(name):
        raise CliError(f"invalid image name {name!r}: use lowercase letters, digits and single '.', '_' or '-'")
    if not _TAG.match(tag):
        raise CliError(
            f"invalid tag {tag!r}: use letters, digits, '_', '.' or '-' (at most 128, not starting with '.')"
        )
    path = directory / "Dockerfile"
    exists = path.is_file()
    text = path.read_text() if exists else dockerfile(name, base_image=base_image)
    declared = _BASE_ARG.search(text)
    image = f"{name}:{tag}"
    build = ["docker", "build", "--tag", image, "--file", str(path)]
    if platform:
        build += ["--platform", platform]
    if base_image:
        build += ["--build-arg", f"PAIS_BASE_IMAGE={base_image}"]
    commands = [["uv", "lock", "--directory", str(directory)], [*build, str(directory)]]
    if kind_load:
        commands.append(["kind", "load", "docker-image", image, *(["--name", kind_cluster] if kind_cluster else [])])
    return BuildPlan(
        directory=directory,
        image=image,
        base_image=base_image or (declared.group(1) if declared else default_base_image()),
        dockerfile=path,
        dockerfile_text=text,
        write_dockerfile=not exists,
        commands=commands,
    )


def show_plan(plan: BuildPlan) -> None:
    """Print the Dockerfile and the exact commands (the `--dry-run` output) on stdout."""
    state = "would be written" if plan.write_dockerfile else "existing, reused"
    out = sys.stdout
    out.write(f"# Dockerfile: {plan.dockerfile} ({state})\n")
    out.write(plan.dockerfile_text.rstrip("\n") + "\n\n")
    out.write(f"# Base image: {plan.base_image}\n")
    if not _has_image(plan.base_image):
        out.write(f"# Not found in a local Docker engine; build it first:\n#   {_base_build_hint(plan.base_image)}\n")
    out.write("# Commands:\n")
    for command in plan.commands:
        out.write(f"$ {shlex.join(command)}\n")


def run_build(plan: BuildPlan) -> None:
    """Check the tools, write the Dockerfile if missing, then run the plan's commands in order.

    Raises:
        CliError: a tool is missing, the Docker engine is unreachable, or a command fails.
    """
    for tool in dict.fromkeys(command[0] for command in plan.commands):
        if shutil.which(tool) is None:
            raise CliError(f"{tool} not found on PATH: {_INSTALL_HINTS[tool]}")
    _check_docker_engine()
    _ensure_base_image(plan.base_image)
    if plan.write_dockerfile:
        plan.dockerfile.write_text(plan.dockerfile_text)
        _note(f"wrote {plan.dockerfile}")
        ignore = plan.directory / ".dockerignore"
        if not ignore.exists():
            ignore.write_text(dockerignore())
            _note(f"wrote {ignore}")
    for command in plan.commands:
        _note(f"$ {shlex.join(command)}")
        code = subprocess.run(command, check=False).returncode
        if code != 0:
            raise CliError(f"{shlex.join(command[:3])} ... failed with exit code {code}")
    _note(f"built {plan.image}")


def _check_docker_engine() -> None:
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        raise CliError("the Docker engine did not answer within 30 s: is it running?") from None
    if probe.returncode != 0 or not probe.stdout.strip():
        reason = next((line.strip() for line in probe.stderr.splitlines() if line.strip()), "no server version")
        raise CliError(
            f"no Docker engine is reachable ({reason}): start Docker (or set DOCKER_HOST), "
            "or use pais build --dry-run to see the Dockerfile and commands"
        )


def _has_image(image: str) -> bool:
    """Whether the local Docker engine has `image` (False without docker or an engine)."""
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def _ensure_base_image(image: str) -> None:
    if _has_image(image):
        return
    _note(f"$ docker pull {image}   (the base image is not in the local Docker engine)")
    if subprocess.run(["docker", "pull", image], capture_output=True, check=False).returncode != 0:
        raise CliError(
            f"the PAIS base image {image} is not in the Docker engine and cannot be pulled: "
            f"build it first ({_base_build_hint(image)}) or choose another with --base-image"
        )


def _base_build_hint(image: str) -> str:
    """The command that builds the PAIS base image from a checkout (this one, when pais runs from one)."""
    root = Path(__file__).resolve().parents[4]
    checkout = root if (root / "Dockerfile").is_file() and (root / "packages/pais-server").is_dir() else None
    return shlex.join(["docker", "build", "--tag", image, str(checkout) if checkout else "path/to/pais-checkout"])


def _note(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
