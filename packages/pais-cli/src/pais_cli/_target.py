"""Find the Pydantic AI agent that a `pais run` TARGET names.

A TARGET is a Python file (`server.py`, `path/to/file.py:attr`) or an importable module
(`package.module:attr`). Without `:attr` the module must define exactly one agent at module level;
with it, the attribute is an agent or a zero-argument factory that returns one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic_ai.agent import AbstractAgent

from ._errors import CliError

__all__ = ["Target", "agent_name_default", "load_agent", "parse_target"]

_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MODULE = _ATTR
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Target:
    """A parsed TARGET: a file or a module, and optionally the attribute holding the agent."""

    text: str
    file: Path | None = None
    module: str | None = None
    attr: str | None = None

    @property
    def source(self) -> str:
        """The file or module part, as the user wrote it."""
        return self.text.rpartition(":")[0] if self.attr else self.text

    @property
    def stem(self) -> str:
        """The file's stem or the module's last component."""
        if self.file is not None:
            return self.file.stem
        return (self.module or "agent").rpartition(".")[2]

    @property
    def watch_dir(self) -> Path:
        """The directory whose edits should reload the server."""
        return self.file.parent if self.file is not None else Path.cwd()


def parse_target(text: str) -> Target:
    """Split `file.py[:attr]` or `module[:attr]`; the file must exist."""
    source, _, attr = text.rpartition(":") if ":" in text else (text, "", "")
    if not source:
        raise CliError(f"invalid target {text!r}: expected server.py, path/to/file.py:attr or module:attr")
    if attr and not _ATTR.match(attr):
        raise CliError(f"invalid target {text!r}: {attr!r} is not a Python attribute name")
    if source.endswith(".py") or os.sep in source or "/" in source:
        path = Path(source)
        if not path.is_file():
            raise CliError(f"{source} not found (working directory: {Path.cwd()})")
        return Target(text=text, file=path.resolve(), attr=attr or None)
    if not _MODULE.match(source):
        raise CliError(f"invalid target {text!r}: {source!r} is neither a .py file nor a module name")
    return Target(text=text, module=source, attr=attr or None)


def load_agent(target: Target) -> AbstractAgent[Any, Any]:
    """Import the target and return its agent.

    Raises:
        CliError: the target cannot be imported, has no agent, several agents, or a bad attribute.
    """
    module = _import(target)
    if target.attr is None:
        return _only_agent(target, module)
    value: Any = module
    for part in target.attr.split("."):
        if not hasattr(value, part):
            found = ", ".join(_agents(module)) or "none"
            raise CliError(f"{target.source} has no attribute {target.attr!r} (agents defined there: {found})")
        value = getattr(value, part)
    if isinstance(value, AbstractAgent):
        return value  # pyright: ignore[reportUnknownVariableType]
    if callable(value):
        return _call_factory(target, value)
    raise CliError(
        f"{target.text} is a {type(value).__name__}, not a Pydantic AI Agent or a zero-argument factory returning one"
    )


def agent_name_default(agent: AbstractAgent[Any, Any] | None, target: Target | None) -> str:
    """The agent's own `name`, else the target's stem, made a valid AGENT_NAME; `agent` if nothing fits."""
    for candidate in (agent.name if agent is not None else None, target.stem if target is not None else None):
        if candidate:
            cleaned = _NAME_CHARS.sub("-", candidate).lstrip("._-")[:63]
            if cleaned:
                return cleaned
    return "agent"


def _import(target: Target) -> ModuleType:
    if target.file is not None:
        return _import_file(target, target.file)
    assert target.module is not None
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target.module)
    except ModuleNotFoundError as exc:
        if exc.name and (target.module == exc.name or target.module.startswith(exc.name + ".")):
            raise CliError(
                f"no module named {target.module!r} here ({cwd}): run from the directory that contains it, "
                f"or give a file path such as path/to/{target.stem}.py"
            ) from None
        raise CliError(_import_failure(target, exc, None)) from None
    except Exception as exc:
        raise CliError(_import_failure(target, exc, None)) from None


def _import_file(target: Target, path: Path) -> ModuleType:
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # so the file can import its siblings, as `python file.py` would
    name = path.stem if _free_module_name(path) else f"_pais_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"{target.source} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CliError(_import_failure(target, exc, path)) from None
    return module


def _free_module_name(path: Path) -> bool:
    """Whether the file can be imported under its own stem without shadowing another module."""
    if not path.stem.isidentifier() or path.stem in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(path.stem)
    except (ImportError, ValueError):
        return False
    return spec is None or spec.origin == str(path)


def _import_failure(target: Target, exc: BaseException, path: Path | None) -> str:
    if isinstance(exc, SyntaxError):
        file = target.source if path is not None and exc.filename == str(path) else exc.filename or target.source
        where = f"{file}, line {exc.lineno}" if exc.lineno else file
        return f"cannot import {target.source}: syntax error ({where}): {exc.msg}"
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if path is None or Path(f.filename) == path]
    where = f" ({Path(mine[-1].filename).name}, line {mine[-1].lineno})" if mine else ""
    return f"cannot import {target.source}: {type(exc).__name__}: {exc}{where}"


def _agents(module: ModuleType) -> dict[str, AbstractAgent[Any, Any]]:
    found: dict[str, AbstractAgent[Any, Any]] = {}
    for name, value in vars(module).items():
        if isinstance(value, AbstractAgent) and not any(value is seen for seen in found.values()):
            found[name] = value
    return found


def _only_agent(target: Target, module: ModuleType) -> AbstractAgent[Any, Any]:
    agents = _agents(module)
    if len(agents) == 1:
        return next(iter(agents.values()))
    if not agents:
        raise CliError(
            f"no Pydantic AI agent found in {target.source}: define one at module level "
            f"(agent = Agent(...)) or name a factory that returns one: pais run {target.source}:create_agent"
        )
    names = ", ".join(agents)
    first = next(iter(agents))
    raise CliError(
        f"{target.source} defines {len(agents)} agents ({names}): choose one with pais run {target.source}:{first}"
    )


def _call_factory(target: Target, factory: Any) -> AbstractAgent[Any, Any]:
    try:
        inspect.signature(factory).bind()
    except TypeError:
        raise CliError(f"{target.text} needs arguments: a factory must be callable with none") from None
    except ValueError:
        pass  # no signature available (some builtins): just call it
    try:
        value = factory()
    except Exception as exc:
        raise CliError(f"{target.text}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(value, AbstractAgent):
        raise CliError(f"{target.text}() returned a {type(value).__name__}, not a Pydantic AI Agent")
    return value  # pyright: ignore[reportUnknownVariableType]
