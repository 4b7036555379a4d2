"""Execute one stage of a Dockerfile on the host, for machines without a Docker engine.

Only the instructions a Python build stage uses are supported: ARG, FROM, WORKDIR, ENV, SHELL,
COPY (from the build context, honouring `.dockerignore` with Docker's matching rules; `--from`
copies are skipped: they bring tools such as uv, which the host has) and RUN (bind mounts of the
build context are provided for the command's duration; cache mounts and `from=` mounts, which
bring tools, are dropped). Absolute paths are mapped under `root`, so `/app` becomes `root/app`;
the stage's base image is whatever the caller prepared under `root` and in `env`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Instruction", "dockerignore_excludes", "parse_dockerfile", "run_stage"]

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_MOUNT = re.compile(r"\s*--mount=(\S+)")


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
        if not line or line.startswith("#"):
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
    dockerfile: str,
    *,
    stage: str,
    context: Path,
    root: Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Run the instructions of `FROM ... AS stage` with the host's environment (or `env`) under the ENV values.

    `overrides` win over the stage's ENV values (e.g. `UV_COMPILE_BYTECODE=0` to save time).
    Returns the stage's ENV values.
    """
    host_env = dict(os.environ if env is None else env)
    context = context.resolve()
    excludes = _read_dockerignore(context)
    instructions = parse_dockerfile(dockerfile)
    start = next(
        i
        for i, ins in enumerate(instructions)
        if ins.keyword == "FROM" and ins.arguments.lower().endswith(f" as {stage}")
    )
    stage_env: dict[str, str] = {}
    shell = ["/bin/sh", "-c"]
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
        elif ins.keyword == "SHELL":
            shell = json.loads(ins.arguments)
        elif ins.keyword == "COPY":
            _copy(ins.arguments, context=context, excludes=excludes, root=root, workdir=workdir)
        elif ins.keyword == "RUN":
            mounts: list[str] = []
            command = ins.arguments
            while match := _MOUNT.match(command):
                mounts.append(match.group(1))
                command = command[match.end() :]
            with _bind_mounts(mounts, context=context, root=root, workdir=workdir):
                subprocess.run(
                    [*shell, command.strip()],
                    cwd=workdir,
                    env={**host_env, **stage_env, **(overrides or {})},
                    check=True,
                    timeout=600,
                )
        elif ins.keyword not in {"ARG", "LABEL", "EXPOSE", "USER", "HEALTHCHECK", "STOPSIGNAL", "CMD", "ENTRYPOINT"}:
            raise ValueError(f"unsupported instruction {ins.keyword}")
    return stage_env


def dockerignore_excludes(relative: str, patterns: list[str]) -> bool:
    """Whether Docker leaves the context path `relative` out of the build context.

    The last pattern matching the path or one of its parent directories decides; `!` re-includes.
    """
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.removeprefix("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's path patterns: `*` and `?` stay within one path element, `**` spans any number."""
    pattern = pattern.strip("/").removeprefix("./")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def _expand(value: str, env: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _host_path(root: Path, workdir: Path, path: str) -> Path:
    return root / path.lstrip("/") if path.startswith("/") else workdir / path


@contextmanager
def _bind_mounts(mounts: list[str], *, context: Path, root: Path, workdir: Path) -> Generator[None]:
    """Copies of the bind-mounted context files at their targets, removed when the command ends."""
    placed: list[Path] = []
    try:
        for mount in mounts:
            options = {key: value for key, _, value in (option.partition("=") for option in mount.split(","))}
            if options.get("type") != "bind" or "from" in options:
                continue
            target = _host_path(root, workdir, options["target"])
            if target.exists():
                raise ValueError(f"bind mount target {target} already exists")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(context / options.get("source", "."), target)
            placed.append(target)
        yield
    finally:
        for target in placed:
            target.unlink()


def _copy(arguments: str, *, context: Path, excludes: list[str], root: Path, workdir: Path) -> None:
    words = shlex.split(arguments)
    if any(word.startswith("--from=") for word in words):
        return
    *sources, destination = (word for word in words if not word.startswith("--"))
    target = _host_path(root, workdir, destination)
    for source in sources:
        origin = (context / source).resolve()
        files = [origin] if origin.is_file() else sorted(p for p in origin.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(context).as_posix()
            if dockerignore_excludes(relative, excludes):
                continue
            copied = target / (file.name if file == origin else file.relative_to(origin))
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, copied)


def _read_dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]
