"""The application factory and the `serve()` helper."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic_ai.agent import AbstractAgent

from pais_core import Settings, __version__

from . import _a2a_routes, _chat_routes, _discovery_routes, _memory_routes, _probe_routes
from ._a2a_tasks import A2ATasks
from ._http_errors import BodySizeLimit, install_error_handlers
from ._runtime import open_runtime

__all__ = ["create_app", "serve"]


def create_app(settings: Settings | None = None, agent: AbstractAgent[Any, Any] | None = None) -> FastAPI:
    """Build the PAIS ASGI app.

    Args:
        settings: the configuration; read from the environment when omitted.
        agent: a Pydantic AI agent to serve; built from the settings when omitted. A custom
            agent keeps its own tools and instructions and gets PAIS's model only if it has none.
    """
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        async with open_runtime(settings, agent) as runtime, A2ATasks(runtime.runner) as a2a_tasks:
            app.state.runtime = runtime
            app.state.a2a_tasks = a2a_tasks
            yield

    app = FastAPI(
        title=f"PAIS agent {settings.agent_name}",
        description=settings.agent_description,
        version=__version__,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(_chat_routes.router)
    app.include_router(_discovery_routes.router)
    app.include_router(_probe_routes.router)
    app.include_router(_a2a_routes.router)
    if settings.memory_endpoints_enabled:
        app.include_router(_memory_routes.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    return app


def serve(
    agent: AbstractAgent[Any, Any] | None = None,
    *,
    settings: Settings | None = None,
    host: str = "0.0.0.0",
    port: int | None = None,
) -> None:
    """Serve `agent` (or the environment's agent) with uvicorn until interrupted."""
    import uvicorn

    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings, agent),
        host=host,
        port=port or settings.agent_port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
