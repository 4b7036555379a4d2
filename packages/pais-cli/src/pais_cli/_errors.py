"""The one error type every command raises for a problem the user can fix, and how it is shown."""

from __future__ import annotations

__all__ = ["CliError", "print_error"]


class CliError(Exception):
    """A clear, one-line reason to stop; `main()` prints it on stderr and exits with `exit_code`."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def print_error(message: str) -> None:
    """`Error: message` on stderr, in red on a terminal."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]Error:[/] {escape(message)}")
