"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ._runtime import Runtime

__all__ = ["RuntimeDep", "runtime_of"]


def runtime_of(request: Request) -> Runtime:
    """The runtime of the app serving `request` (for hot routes that skip dependency solving)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> Runtime:  # async: a plain function would run in the thread pool
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
