"""Execute one stage of a Dockerfile on the host, for machines without a Docker engine.

Only the instructions a Python build stage uses are supported: ARG, FROM, WORKDIR, ENV, COPY
(from the build context, honouring simple `.dockerignore` patterns; `--from` copies are skipped:
they bring tools such as uv, which the host has) and RUN (`--mount` flags dropped). Absolute paths
are mapped under `root`, so `/app` becomes `root/app`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Instruction", "parse_dockerfile", "run_stage"]

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def run_stage(
    dockerfile: str, *, stage: str, context: Path, root: Path, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Run the instructions of `FROM ... AS stage` with the host's environment (or `env`) under the ENV values.

    Returns the stage's ENV values.
    """
    host_env = dict(os.environ if env is None else env)
    instructions = parse_dockerfile(dockerfile)
    start = next(
        i
        for i, ins in enumerate(instructions)
        if ins.keyword == "FROM" and ins.arguments.lower().endswith(f" as {stage}")
    )
    stage_env: dict[str, str] = {}
    workdir = root
    for ins in instructions[start + 1 :]:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "WORKDIR":
            workdir = _host_path(root, workdir, ins.arguments)
            workdir.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "ENV":
            for pair in shlex.split(ins.arguments):
                name, _, value = pair.partition("=")
                value = _expand(value, {**host_env, **stage_env})
                stage_env[name] = str(_host_path(root, workdir, value)) if value.startswith("/") else value
        elif ins.keyword == "COPY":
            _copy(ins.arguments, context=context, root=root, workdir=workdir)
        elif ins.keyword == "RUN":
            command = " ".join(word for word in shlex.split(ins.arguments) if not word.startswith("--mount="))
            subprocess.run(["sh", "-c", command], cwd=workdir, env={**host_env, **stage_env}, check=True, timeout=600)
        elif ins.keyword not in {"ARG", "LABEL", "EXPOSE", "USER", "HEALTHCHECK", "CMD", "ENTRYPOINT"}:
            raise ValueError(f"unsupported instruction {ins.keyword}")
    return stage_env


def _expand(value: str, env: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _host_path(root: Path, workdir: Path, path: str) -> Path:
    return root / path.lstrip("/") if path.startswith("/") else workdir / path


def _copy(arguments: str, *, context: Path, root: Path, workdir: Path) -> None:
    context = context.resolve()
    words = shlex.split(arguments)
    if any(word.startswith("--from=") for word in words):
        return
    paths = [word for word in words if not word.startswith("--")]
    *sources, destination = paths
    target = _host_path(root, workdir, destination)
    ignored = _dockerignore(context)
    for source in sources:
        origin = (context / source).resolve()
        if origin.is_dir():
            shutil.copytree(
                origin, target, dirs_exist_ok=True, ignore=lambda d, names: _ignored(context, d, names, ignored)
            )
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name)


def _dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line.removeprefix("**/") for line in lines if line and not line.startswith("#")]


def _ignored(context: Path, directory: str | os.PathLike[str], names: list[str], patterns: list[str]) -> list[str]:
    relative = Path(directory).relative_to(context)
    return [
        name
        for name in names
        if any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(str(relative / name), p) for p in patterns)
    ]
