"""`pais run`: serve a user's agent (or the environment's agent) with PAIS and uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import CliError, print_error
from ._target import Target, agent_name_default, load_agent, parse_target

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic_ai.agent import AbstractAgent

    from pais_core import Settings

__all__ = ["app_from_environment", "load_env_file", "run"]

# How the reloading parent tells its uvicorn worker processes which TARGET to serve.
_TARGET_VARIABLE = "PAIS_RUN_TARGET"


def run(target: str | None, *, host: str, port: int | None, reload: bool, env_file: Path | None) -> None:
    """Check the target, then serve it until interrupted (uvicorn reloads on edits with `reload`)."""
    if env_file is not None:
        load_env_file(env_file)
    if port is not None:
        os.environ["AGENT_PORT"] = str(port)  # the worker processes of --reload read it too
    parsed = parse_target(target) if target else None
    settings, agent = _resolve(parsed)
    _announce(settings, agent, parsed, host=host, reload=reload)
    if not reload:
        from pais_server import serve

        serve(agent, settings=settings, host=host, port=settings.agent_port)
        return
    import uvicorn

    from pais_server import uvicorn_options

    os.environ[_TARGET_VARIABLE] = target or ""
    uvicorn.run(
        f"{__name__}:app_from_environment",
        factory=True,
        host=host,
        port=settings.agent_port,
        reload=True,
        reload_dirs=[str(parsed.watch_dir if parsed else Path.cwd())],
        log_level=settings.log_level.lower(),
        **uvicorn_options(settings),
    )


def app_from_environment() -> FastAPI:
    """The app factory uvicorn's reload workers call: imports the target afresh on every reload."""
    from pais_server import create_app

    text = os.environ.get(_TARGET_VARIABLE, "")
    try:
        settings, agent = _resolve(parse_target(text) if text else None)
    except CliError as exc:
        print_error(exc.message)  # uvicorn keeps watching: the next edit starts a new worker
        sys.exit(exc.exit_code)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(settings, agent)


def load_env_file(path: Path) -> None:
    """Add the variables of a dotenv file to the environment; variables already set win."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise CliError(f"env file {path} not found")
    for name, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(name, value)


def _resolve(target: Target | None) -> tuple[Settings, AbstractAgent[Any, Any] | None]:
    from pais_core import ConfigError, Settings

    agent = load_agent(target) if target is not None else None
    environ = dict(os.environ)
    if not environ.get("AGENT_NAME", "").strip():
        environ["AGENT_NAME"] = agent_name_default(agent, target)
    try:
        return Settings.from_env(environ), agent
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _announce(
    settings: Settings, agent: AbstractAgent[Any, Any] | None, target: Target | None, *, host: str, reload: bool
) -> None:
    from rich.console import Console
    from rich.markup import escape

    from pais_core import redact_urls

    if agent is not None and agent.model is not None:
        model = "the agent's own model"
    elif settings.debug_mock_responses:
        model = "scripted replies (DEBUG_MOCK_RESPONSES)"
    elif settings.model_name == "test":
        model = "Pydantic AI's offline TestModel (MODEL_NAME=test)"
    elif settings.model_api_url:
        model = f"{settings.model_name or '(MODEL_NAME unset)'} at {redact_urls(settings.model_base_url or '')}"
    else:
        model = "Pydantic AI's offline TestModel (set MODEL_API_URL and MODEL_NAME for a real model)"
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    source = escape(target.text) if target else "the environment (AGENT_* variables)"
    console.print(f"[bold]pais[/] serving agent [cyan]{settings.agent_name}[/] from {source}")
    console.print(f"  url:   http://{shown}:{settings.agent_port}", markup=False)
    console.print(f"  model: {model}", markup=False)
    if reload:
        console.print(f"  reload: watching {target.watch_dir if target else Path.cwd()}", markup=False)
