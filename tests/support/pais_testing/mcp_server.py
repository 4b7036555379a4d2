"""A real FastMCP server over Streamable HTTP on loopback, in a subprocess a test can stop and restart.

Tools: `add(a, b)`, `echo(text)` and `fail(message)`, which always raises a tool error. Every HTTP
request is recorded (method, path, headers, body) and served back at `GET /_requests`, so tests can check
what the client sent. Run directly: `python -m pais_testing.mcp_server --port N [--name NAME]`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .ports import free_port, wait_for_port
from .process import ManagedProcess

__all__ = ["McpTestServer"]

_SUPPORT_DIR = Path(__file__).resolve().parent.parent


class McpTestServer:
    """The FastMCP test server on a fixed loopback port; `stop()` then `start()` restarts it there.

    `base_url` has no path (as an operator would configure it); the MCP endpoint is `base_url + "/mcp"`.
    """

    def __init__(self, *, name: str = "testtools", port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: ManagedProcess | None = None

    def start(self) -> McpTestServer:
        argv = [sys.executable, "-m", "pais_testing.mcp_server", "--port", str(self.port), "--name", self.name]
        env = {"PYTHONPATH": str(_SUPPORT_DIR)}
        self._process = ManagedProcess(argv, env={**os.environ, **env}).start()
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            output = self._process.output()
            self._process.stop()
            raise RuntimeError(f"MCP test server did not start:\n{output[-3000:]}") from None
        return self

    def stop(self) -> None:
        """Kill the server at once (SIGKILL): sessions die without a goodbye, like a crashed pod."""
        if self._process is not None:
            self._process.stop(grace=0)
            self._process = None

    def requests(self) -> list[dict[str, Any]]:
        """The HTTP requests the server received since it started: method, path, headers, body."""
        return httpx.get(f"{self.base_url}/_requests", timeout=5).json()

    def __enter__(self) -> McpTestServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _serve(port: int, name: str) -> None:
    import uvicorn
    from fastmcp import FastMCP
    from fastmcp.exceptions import ToolError
    from starlette.responses import JSONResponse
    from starlette.types import Receive, Scope, Send

    mcp = FastMCP(name)

    @mcp.tool
    def add(a: int, b: int) -> int:
        """Add two integers and return the sum."""
        return a + b

    @mcp.tool
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool
    def fail(message: str) -> str:
        """Always fails with the given message."""
        raise ToolError(f"fail tool refused: {message}")

    app = mcp.http_app(path="/mcp")
    seen: list[dict[str, Any]] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == "/_requests":
                await JSONResponse(seen)(scope, receive, send)
                return
            headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
            received: list[Any] = []
            body = b""
            while scope["method"] == "POST":
                message = await receive()
                received.append(message)
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            record = {"method": scope["method"], "path": scope["path"], "headers": headers, "body": body.decode()}
            seen.append(record)

            async def replay() -> Any:
                return received.pop(0) if received else await receive()

            await app(scope, replay, send)
            return
        await app(scope, receive, send)

    uvicorn.run(recording, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="testtools")
    arguments = parser.parse_args()
    _serve(arguments.port, arguments.name)
