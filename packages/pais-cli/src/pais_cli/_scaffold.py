"""`pais init`: generate a project that runs, tests and builds as generated; the Dockerfile `pais build` uses."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from ._errors import CliError

__all__ = ["PAIS_PACKAGES", "default_base_image", "dockerfile", "dockerignore", "init_project", "pais_version"]

UV_IMAGE = "ghcr.io/astral-sh/uv:0.13"
PAIS_PACKAGES = ("pais-core", "pais-memory", "pais-delegation", "pais-telemetry", "pais-server", "pais-cli")
"""The distributions of the PAIS base image: a project's image takes them from there, never from its lock."""
_PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

# Generated file -> template in `pais_cli/templates`.
_PROJECT_FILES = {
    "server.py": "server.py.tmpl",
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "Dockerfile": "Dockerfile.tmpl",
    ".dockerignore": "dockerignore.tmpl",
    ".gitignore": "gitignore.tmpl",
    "tests/test_agent.py": "test_agent.py.tmpl",
}


def pais_version() -> str:
    """The running PAIS version, which generated projects pin."""
    return version("pais-core")


def default_base_image() -> str:
    """The PAIS base image a project's image extends: `pais-server:<running PAIS version>`."""
    return f"pais-server:{pais_version()}"


def dockerfile(name: str, *, base_image: str | None = None) -> str:
    """The Dockerfile of a PAIS agent project named `name`, extending `base_image` (the PAIS base image)."""
    return _render("Dockerfile.tmpl", name=name, **_image_values(base_image))


def dockerignore() -> str:
    """The `.dockerignore` that keeps local state and secrets out of the build context."""
    return _render("dockerignore.tmpl")


def init_project(name: str, *, directory: Path, force: bool, pais_source: Path | None) -> list[Path]:
    """Write a new project into `directory`; returns the files written.

    Raises:
        CliError: invalid name, a non-empty directory without `force`, or a bad `pais_source`.
    """
    if not _PROJECT_NAME.match(name):
        raise CliError(
            f"invalid project name {name!r}: use lowercase letters, digits, '-', '_' or '.' "
            "(it names the Python project, the agent and its image)"
        )
    if directory.exists() and not directory.is_dir():
        raise CliError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise CliError(
            f"{directory} already exists and is not empty: choose another name or --dir, "
            "or pass --force to overwrite the generated files"
        )
    values = {
        "name": name,
        "pais_version": pais_version(),
        "pydantic_ai_version": ".".join(version("pydantic-ai-slim").split(".")[:2]),
        "sources": _sources(pais_source.resolve(), directory.resolve()) if pais_source else "",
        **_image_values(None),
    }
    written: list[Path] = []
    for relative, template in _PROJECT_FILES.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(template, **values))
        written.append(path)
    return written


def _image_values(base_image: str | None) -> dict[str, str]:
    no_emit = "".join(f"        --no-emit-package {package} \\\n" for package in PAIS_PACKAGES)
    return {
        "base_image": base_image or default_base_image(),
        "uv_image": UV_IMAGE,
        "no_emit_pais": no_emit.removesuffix("\n"),
    }


def _render(template: str, **values: str) -> str:
    text = (files("pais_cli") / "templates" / template).read_text()

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _PLACEHOLDER.sub(value, text)


def _sources(checkout: Path, project: Path) -> str:
    """`[tool.uv.sources]` entries installing every PAIS package from a local checkout."""
    packages = sorted(p.parent for p in checkout.glob("packages/pais-*/pyproject.toml"))
    if not {"pais-server", "pais-cli"} <= {p.name for p in packages}:
        raise CliError(f"--pais-source {checkout} is not a PAIS checkout (no packages/pais-server, packages/pais-cli)")
    lines = [
        "",
        "# PAIS from a local checkout (`pais init --pais-source`) instead of the package index.",
        "[tool.uv.sources]",
    ]
    for package in packages:
        location = package.relative_to(project) if package.is_relative_to(project) else package
        lines.append(f"{package.name} = {{ path = {json.dumps(location.as_posix())}, editable = true }}")
    return "\n".join(lines) + "\n"
