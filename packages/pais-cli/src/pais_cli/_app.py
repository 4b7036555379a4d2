"""The `pais` command line. Each command imports what it needs when it runs, so `pais --help` stays fast."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._errors import CliError, print_error

__all__ = ["app", "main"]

app = typer.Typer(
    name="pais",
    help="PAIS: scaffold, run, build and talk to Pydantic AI agent servers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(help="A local OpenAI-compatible model for development.", no_args_is_help=True)
app.add_typer(model_app, name="model")

_URL = typer.Argument(help="Base URL of the agent, e.g. http://127.0.0.1:8000.")
_TIMEOUT = typer.Option(help="Seconds to wait for the agent.")


def main() -> None:
    """Entry point of the `pais` script and `python -m pais_cli`."""
    try:
        app()
    except CliError as exc:
        print_error(exc.message)
        sys.exit(exc.exit_code)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"pais {version('pais-cli')}")
        raise typer.Exit


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """PAIS: scaffold, run, build and talk to Pydantic AI agent servers."""


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="Project name: lowercase letters, digits, '-', '_' or '.'.")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Directory to create the project in [default: ./NAME].")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the generated files in an existing directory.")] = False,
    pais_source: Annotated[
        Path | None,
        typer.Option(help="A local PAIS checkout to install PAIS from ([tool.uv.sources]) instead of the index."),
    ] = None,
) -> None:
    """Create a new agent project: server.py, tests, pyproject.toml, Dockerfile."""
    from ._scaffold import init_project

    target = directory if directory is not None else Path(name)
    written = init_project(name, directory=target, force=force, pais_source=pais_source)
    for path in written:
        typer.echo(f"  created {path}")
    shown = target if target.is_absolute() else Path(os.curdir) / target
    typer.echo(f"\nNext: cd {shown} && pais run server.py --reload")


@app.command()
def run(
    target: Annotated[
        str | None,
        typer.Argument(help="server.py, path/to/file.py:attr or module:attr (an Agent or a factory returning one)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port [default: $AGENT_PORT or 8000].")] = None,
    reload: Annotated[bool, typer.Option(help="Restart when a .py file next to the target changes.")] = False,
    env_file: Annotated[
        Path | None, typer.Option(help="A dotenv file of variables (already set variables win).")
    ] = None,
) -> None:
    """Serve an agent with PAIS; without TARGET, the agent the environment describes."""
    from ._run import run as run_agent

    run_agent(target, host=host, port=port, reload=reload, env_file=env_file)


@app.command()
def build(
    name: Annotated[str | None, typer.Option(help="Image name [default: the directory's name].")] = None,
    tag: Annotated[str, typer.Option(help="Image tag.")] = "dev",
    directory: Annotated[Path, typer.Option("--dir", help="The project directory.")] = Path(),
    platform: Annotated[str | None, typer.Option(help="Target platform, e.g. linux/amd64.")] = None,
    base_image: Annotated[
        str | None,
        typer.Option(help="The PAIS base image to extend [default: the Dockerfile's, pais-server:<PAIS version>]."),
    ] = None,
    kind_load: Annotated[bool, typer.Option(help="Load the image into a kind cluster.")] = False,
    kind_cluster: Annotated[str | None, typer.Option(help="The kind cluster [default: kind's default].")] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the Dockerfile and the commands; run nothing.")] = False,
) -> None:
    """Build the project's container image (writes a Dockerfile if there is none)."""
    from ._build import plan_build, run_build, show_plan

    plan = plan_build(
        directory,
        name=name,
        tag=tag,
        platform=platform,
        base_image=base_image,
        kind_load=kind_load,
        kind_cluster=kind_cluster,
    )
    if dry_run:
        show_plan(plan)
    else:
        run_build(plan)


@app.command()
def invoke(
    url: Annotated[str, _URL],
    message: Annotated[str, typer.Option("--message", "-m", help="The user message.")],
    session: Annotated[str | None, typer.Option(help="Continue this session.")] = None,
    stream: Annotated[bool, typer.Option(help="Stream tokens and progress as they come.")] = False,
    timeout: Annotated[float, _TIMEOUT] = 300.0,
) -> None:
    """Send a message to an agent and print its answer."""
    from ._client import invoke as invoke_agent

    invoke_agent(url, message, session=session, stream=stream, timeout=timeout)


@app.command()
def card(url: Annotated[str, _URL], timeout: Annotated[float, _TIMEOUT] = 30.0) -> None:
    """Print an agent's A2A agent card."""
    from ._client import card as show_card

    show_card(url, timeout=timeout)


@app.command()
def sessions(
    url: Annotated[str, _URL],
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue from a previous page's cursor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON page.")] = False,
    timeout: Annotated[float, _TIMEOUT] = 30.0,
) -> None:
    """List the sessions in an agent's memory."""
    from ._client import sessions as list_sessions

    list_sessions(url, limit=limit, cursor=cursor, as_json=as_json, timeout=timeout)


@app.command()
def events(
    url: Annotated[str, _URL],
    session: Annotated[str, typer.Option(help="The session id.")],
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue from a previous page's cursor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON page.")] = False,
    timeout: Annotated[float, _TIMEOUT] = 30.0,
) -> None:
    """Show the events of one session in an agent's memory."""
    from ._client import events as list_events

    list_events(url, session=session, limit=limit, cursor=cursor, as_json=as_json, timeout=timeout)


@app.command("approvals")
def list_approvals(
    url: Annotated[str, _URL],
    session: Annotated[
        str | None, typer.Option(help="Only this session's [default: every session you may list].")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Look at this many sessions at most.")] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue from a previous page's cursor.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON page.")] = False,
    timeout: Annotated[float, _TIMEOUT] = 30.0,
) -> None:
    """List the tool calls awaiting a person's approval."""
    from ._client import approvals

    approvals(url, session=session, limit=limit, cursor=cursor, as_json=as_json, timeout=timeout)


@app.command()
def approve(
    url: Annotated[str, _URL],
    call_id: Annotated[str, typer.Argument(metavar="ID", help="The id of the call awaiting approval.")],
    deny: Annotated[bool, typer.Option("--deny", help="Deny the call instead: it never runs.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (the model sees it when the call is denied).")] = None,
    session: Annotated[
        str | None, typer.Option(help="The call's session [default: the one session awaiting a call with ID].")
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, max=300, help="Seconds to wait for the resumed run's answer (0: do not wait).")
    ] = 60.0,
    timeout: Annotated[float, _TIMEOUT] = 30.0,
) -> None:
    """Approve (or --deny) a tool call awaiting approval; print the answer of the run it resumes."""
    from ._client import approve as decide

    decide(url, call_id, deny=deny, reason=reason, session=session, wait=wait, timeout=timeout)


@model_app.command("serve")
def model_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    threads: Annotated[int, typer.Option(help="CPU threads for inference.")] = min(4, os.cpu_count() or 1),
) -> None:
    """Serve SmolLM2-135M-Instruct with llama.cpp (OpenAI-compatible API, alias smollm2:135m)."""
    from ._model import serve_model

    serve_model(host=host, port=port, threads=threads)
