"""PAIS server: serve a Pydantic AI agent with an OpenAI-compatible API, memory, delegation and A2A."""

from ._app import create_app, serve
from .http._timeouts import uvicorn_options
from .runtime._runner import AgentRunner, RunEvent, RunInput, RunResult, TextDelta, ToolProgress

__all__ = [
    "AgentRunner",
    "RunEvent",
    "RunInput",
    "RunResult",
    "TextDelta",
    "ToolProgress",
    "create_app",
    "serve",
    "uvicorn_options",
]
