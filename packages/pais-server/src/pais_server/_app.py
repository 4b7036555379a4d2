"""The application factory and the `serve()` helper."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic_ai.agent import AbstractAgent

from pais_core import Settings, __version__, principal_scope
from pais_telemetry import configure, current_telemetry, untraced_requests

from ._runtime import Runtime, open_runtime
from .auth import JwtVerifier
from .auth._inbound import BearerAuth, document_bearer_auth
from .http._errors import BodySizeLimit, install_error_handlers
from .http._timeouts import uvicorn_options
from .protocols.a2a import _routes as _a2a_routes
from .protocols.a2a._tasks import A2ATasks
from .protocols.chat import _resume_routes as _chat_resume_routes
from .protocols.chat import _routes as _chat_routes
from .protocols.responses import _routes as _responses_routes
from .routes import _approvals as _approvals_routes
from .routes import _discovery as _discovery_routes
from .routes import _memory as _memory_routes
from .routes import _probes as _probe_routes
from .runtime import goal_principal

__all__ = ["create_app", "serve"]


def create_app(settings: Settings | None = None, agent: AbstractAgent[Any, Any] | None = None) -> FastAPI:
    """Build the PAIS ASGI app.

    Args:
        settings: the configuration; read from the environment when omitted.
        agent: a Pydantic AI agent to serve; built from the settings when omitted. A custom
            agent keeps its own tools and instructions and gets PAIS's model only if it has none.
    """
    settings = settings or Settings.from_env()
    # Installs the OpenTelemetry providers once per process when OTEL_ENABLED (no network I/O here);
    # FastAPI's native telemetry then traces each request on them, continuing an incoming traceparent.
    configure(settings, setup_logging=False)
    verifier = JwtVerifier.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        async with open_runtime(settings, agent) as runtime, A2ATasks(runtime.runner) as a2a_tasks:
            app.state.runtime = runtime
            app.state.a2a_tasks = a2a_tasks
            if settings.autonomous_goal:
                with principal_scope(goal_principal(settings)):  # the goal's task runs as the agent itself
                    await a2a_tasks.start_goal(settings.autonomous_goal)
            # What start-up built (modules, the agent, schemas) lives as long as the process: keep the
            # cyclic garbage collector from re-scanning it on every full collection under load.
            gc.freeze()
            yield
        if verifier is not None:
            await verifier.aclose()
        # Export what is still batched now: after a stop signal uvicorn re-raises it once serving
        # ends, so the process dies before any exit hook could flush.
        if (telemetry := current_telemetry()) is not None:
            await asyncio.to_thread(telemetry.force_flush)

    app = FastAPI(
        title=f"PAIS agent {settings.agent_name}",
        description=settings.agent_description,
        version=__version__,
        lifespan=lifespan,
        telemetry={"exclude": untraced_requests(settings.otel_python_fastapi_excluded_urls), "operation_spans": False},
    )
    install_error_handlers(app)
    app.include_router(_chat_routes.router)
    app.include_router(_chat_resume_routes.router)
    app.include_router(_responses_routes.router)
    app.include_router(_discovery_routes.router)
    app.include_router(_probe_routes.router)
    app.include_router(_a2a_routes.router)
    app.include_router(_approvals_routes.router)
    if settings.memory_endpoints_enabled:
        app.include_router(_memory_routes.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.agent_api_key or verifier is not None:
        app.add_middleware(BearerAuth, api_key=settings.agent_api_key, verifier=verifier)
        document_bearer_auth(app)
    return app


def serve(
    agent: AbstractAgent[Any, Any] | None = None,
    *,
    settings: Settings | None = None,
    host: str = "0.0.0.0",
    port: int | None = None,
) -> None:
    """Serve `agent` (or the environment's agent) with uvicorn until SIGTERM/SIGINT.

    On a stop signal `/ready` turns 503 at once; in-flight requests and streams get
    `SHUTDOWN_GRACE_SECONDS` to finish before the lifespan closes memory and clients.
    """
    settings = settings or Settings.from_env()
    telemetry = configure(settings)  # stdout logging with trace ids (LOG_LEVEL, LOG_FORMAT) and OTel providers
    app = create_app(settings, agent)
    config = uvicorn.Config(
        app,
        host=host,
        port=port or settings.agent_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through the root handler: same format, trace ids
        **uvicorn_options(settings),
    )
    try:
        _DrainingServer(config, app).run()
    finally:
        telemetry.shutdown()


class _DrainingServer(uvicorn.Server):
    """Turns `/ready` to 503 the moment a stop signal arrives, then lets uvicorn drain connections."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime: Runtime | None = getattr(self._app.state, "runtime", None)
        if runtime is not None:
            runtime.readiness.draining = True
        super().handle_exit(sig, frame)
