"""PAIS CLI: scaffold, run, build and talk to Pydantic AI agent servers (`pais --help`)."""

from ._app import app, main
from ._errors import CliError

__all__ = ["CliError", "app", "main"]
