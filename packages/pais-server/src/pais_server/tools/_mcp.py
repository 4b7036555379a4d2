"""MCP tool servers (`MCP_SERVERS`) as one Pydantic AI toolset that survives servers coming and going.

Each server is a Pydantic AI `MCPToolset` over Streamable HTTP, owned by a background task that
connects, keeps the session while it is healthy, and reconnects with backoff when it is not. A server
that is down at start-up leaves the agent serving: it is reported `degraded` and its tools appear
once it answers. Decisions:

- URL: a URL without a path gets `/mcp` appended (where FastMCP and most Streamable HTTP servers
  mount, and what KAOS's `http://<service>:8000` means); a URL with a path is used as given.
- Timeouts: `MCP_TIMEOUT_SECONDS` bounds connecting and every request, tool calls included.
- Tool names: a server's own names, unless two connected servers list the same name; then each of
  those tools is named `<server>_<tool>` (server name with non-identifier characters as `_`).
- Errors: a tool's own error reaches the model as a failed tool result. A server that fails during a
  call (gone, timed out) gives the model a failed tool result naming the server, and is reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from pais_core import AgentSkill, CredentialProvider, McpServerSpec, Settings

from ..runtime._approvals import MCP_SERVER_KEY, MCP_TOOL_KEY

try:
    import httpx2
    from fastmcp.exceptions import McpError
    from pydantic_ai.mcp import MCPToolset
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("MCP support needs the `mcp` extra: pip install 'pais-server[mcp]'") from exc

__all__ = ["McpManager", "McpServerStatus", "mcp_endpoint"]

logger = logging.getLogger("pais_server.mcp")

_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001
"""JSON-RPC error codes the MCP SDK raises when the connection closed or a request timed out."""

McpState = Literal["connecting", "connected", "degraded", "closed"]


def mcp_endpoint(url: str) -> str:
    """The Streamable HTTP endpoint for a configured URL: `/mcp` appended when it has no path."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return urlunsplit(parts._replace(path="/mcp"))


class McpServerStatus(BaseModel):
    """One MCP server as `/ready` reports it."""

    model_config = ConfigDict(frozen=True)

    name: str
    url: str
    state: McpState
    error: str | None = None
    tools: list[str] = []


class _CallerAuth(httpx2.Auth):
    """Adds the provider's headers to each request, for the run that sends it.

    The MCP client posts each message in the context of the task that sent it, so a pooled session
    shared by concurrent runs carries each run's own caller on its own requests.
    """

    def __init__(self, credentials: CredentialProvider) -> None:
        self._credentials = credentials

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        request.headers.update(await self._credentials.headers())
        yield request


class _Server:
    """One MCP server and the task that owns its session."""

    def __init__(
        self,
        spec: McpServerSpec,
        *,
        timeout: float,
        retry_initial: float,
        retry_max: float,
        health_interval: float,
        credentials: CredentialProvider | None = None,
    ) -> None:
        self.spec = spec
        self.url = mcp_endpoint(spec.url)
        self.toolset: MCPToolset[Any] = MCPToolset(
            self.url,
            id=f"mcp-{spec.name}",
            headers=dict(spec.headers) or None,
            auth=_CallerAuth(credentials) if credentials is not None else None,
            init_timeout=timeout,
            read_timeout=timeout,
            tool_error_behavior="failed",
        )
        self.state: McpState = "connecting"
        self.error: str | None = None
        self.tools: list[tuple[str, str]] = []
        """Name and description of each tool the server listed when it connected."""
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._health_interval = health_interval
        self._wake = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def tool_names(self) -> list[str]:
        return [name for name, _ in self.tools]

    def start(self) -> None:
        self._task = asyncio.create_task(self._own(), name=f"mcp-{self.spec.name}")

    async def wait_first_attempt(self) -> None:
        await self._first_attempt.wait()

    def reconnect(self, error: BaseException) -> None:
        """Mark the server degraded and have its owner task drop the session and connect again."""
        if self.state == "connected":
            logger.warning("MCP server %r failed, reconnecting: %s", self.spec.name, _describe(error))
        self.state, self.error = "degraded", _describe(error)
        self._wake.set()

    async def probe(self) -> None:
        try:
            async with asyncio.timeout(2.0):
                await self.toolset.client.ping()
        except McpError as error:  # an answer, even "method not found", means the server is there
            if getattr(error, "code", None) in (_CONNECTION_CLOSED, _REQUEST_TIMEOUT):
                self._lost(error)
        except Exception as error:
            self._lost(error)

    def _lost(self, error: BaseException) -> None:
        if self.state == "connected" and not self._closing:
            self.reconnect(error)

    async def close(self, timeout: float) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        self.state, self.tools = "closed", []

    async def _own(self) -> None:
        delay = self._retry_initial
        while not self._closing:
            self._wake.clear()
            try:
                async with self.toolset:
                    tools = await self.toolset.list_tools()
                    self.tools = [(tool.name, tool.description or "") for tool in tools]
                    self.state, self.error = "connected", None
                    logger.info("MCP server %r connected at %s: %d tools", self.spec.name, self.url, len(tools))
                    self._first_attempt.set()
                    delay = self._retry_initial
                    await self._watch()
            except Exception as error:  # any failure to connect or keep the session degrades the server
                if not self._closing:
                    self.reconnect(error)
            self._first_attempt.set()
            if self._closing:
                break
            self.tools = []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            delay = min(delay * 2, self._retry_max)

    async def _watch(self) -> None:
        """Return when woken (close or a failed call), or when a periodic ping fails."""
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self._health_interval)
                return
            except TimeoutError:
                await self.toolset.client.ping()


def _describe(error: BaseException) -> str:
    """The innermost first error of nested exception groups, as one short line."""
    while isinstance(error, BaseExceptionGroup):
        group = cast("BaseExceptionGroup[BaseException]", error)
        error = group.exceptions[0]
    text = str(error) or type(error).__name__
    return text[:300]


def _server_unreachable(error: BaseException) -> bool:
    """Whether a `ModelRetry` from the MCP toolset means the server went away rather than a tool refused."""
    cause = error.__cause__
    return isinstance(cause, McpError) and getattr(cause, "code", None) in (_CONNECTION_CLOSED, _REQUEST_TIMEOUT)


@dataclass(kw_only=True)
class _McpTool(ToolsetTool[Any]):
    """A tool exposed by one server, possibly under a prefixed name."""

    server: _Server
    source_tool: ToolsetTool[Any]


class _McpServersToolset(AbstractToolset[Any]):
    """The tools of every connected server, with colliding names prefixed; calls route to their server."""

    def __init__(self, servers: Sequence[_Server]) -> None:
        self._servers = servers

    @property
    def id(self) -> str:
        return "mcp"

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        listed: list[tuple[_Server, dict[str, ToolsetTool[Any]]]] = []
        for server in self._servers:
            if server.state != "connected":
                continue
            try:
                listed.append((server, await server.toolset.get_tools(ctx)))
            except Exception as error:  # a failing server loses its tools, the run goes on
                server.reconnect(error)
        names = _exposed_names([(server, list(tools)) for server, tools in listed])
        result: dict[str, ToolsetTool[Any]] = {}
        for server, tools in listed:
            for original, tool in tools.items():
                name = names[(server.spec.name, original)]
                if name in result:
                    logger.warning("MCP tool %r of server %r hidden: the name is taken", original, server.spec.name)
                    continue
                result[name] = _McpTool(
                    toolset=self,
                    tool_def=replace(
                        tool.tool_def,
                        name=name,
                        metadata={
                            **(tool.tool_def.metadata or {}),
                            MCP_SERVER_KEY: server.spec.name,
                            MCP_TOOL_KEY: original,
                        },
                    ),
                    max_retries=tool.max_retries,
                    args_validator=tool.args_validator,
                    args_validator_func=tool.args_validator_func,
                    server=server,
                    source_tool=tool,
                )
        return result

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        assert isinstance(tool, _McpTool)
        server, original = tool.server, tool.source_tool.tool_def.name
        try:
            return await server.toolset.call_tool(
                original, tool_args, replace(ctx, tool_name=original), tool.source_tool
            )
        except (ToolFailed, CallDeferred, ApprovalRequired):
            raise
        except ModelRetry as error:
            if not _server_unreachable(error):
                raise
            failure: BaseException = error
        except Exception as error:  # a transport failure becomes a tool error
            failure = error
        server.reconnect(failure)
        raise ToolFailed(
            f"MCP server {server.spec.name!r} could not run tool {original!r}: {_describe(failure)}. "
            "The server may be down; try again later or answer without this tool."
        ) from failure


def _exposed_names(listed: Sequence[tuple[_Server, list[str]]]) -> dict[tuple[str, str], str]:
    counts = Counter(name for _, names in listed for name in names)
    return {
        (server.spec.name, name): name if counts[name] == 1 else f"{_identifier(server.spec.name)}_{name}"
        for server, names in listed
        for name in names
    }


def _identifier(name: str) -> str:
    return re.sub(r"\W", "_", name)


class McpManager:
    """The MCP servers of `settings.mcp_servers`: connect at start-up, reconnect, report, close.

    Use `toolsets` as the agent's (or the run's) toolsets; it lists only the tools of connected
    servers, so it can be passed before any server is reachable.

    Args:
        settings: `mcp_servers` and `mcp_timeout_seconds` are read.
        credentials: per server name, where its auth headers come from on each request.
        retry_initial: first delay before reconnecting a server, in seconds; doubles per failure.
        retry_max: longest delay between reconnection attempts, in seconds.
        health_interval: how often a connected server is pinged, in seconds.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retry_initial: float = 1.0,
        retry_max: float = 30.0,
        health_interval: float = 30.0,
        credentials: Mapping[str, CredentialProvider | None] | None = None,
    ) -> None:
        self._timeout = settings.mcp_timeout_seconds
        self._servers = [
            _Server(
                spec,
                timeout=self._timeout,
                retry_initial=retry_initial,
                retry_max=retry_max,
                health_interval=health_interval,
                credentials=(credentials or {}).get(spec.name),
            )
            for spec in settings.mcp_servers
        ]
        self._toolset = _McpServersToolset(self._servers)
        self._probed_at = -1.0

    @property
    def toolsets(self) -> list[AbstractToolset[Any]]:
        """The toolsets to give the agent: empty without MCP servers."""
        return [self._toolset] if self._servers else []

    async def start(self) -> None:
        """Start connecting every server; returns once each has connected or failed its first attempt."""
        for server in self._servers:
            server.start()
        if self._servers:
            await asyncio.wait(
                [asyncio.create_task(server.wait_first_attempt()) for server in self._servers],
                timeout=self._timeout,
            )

    async def close(self) -> None:
        """Close every session and stop reconnecting."""
        await asyncio.gather(*(server.close(self._timeout) for server in self._servers))

    def status(self) -> list[McpServerStatus]:
        """Each server's state, for `/ready` details."""
        return [
            McpServerStatus(
                name=server.spec.name, url=server.url, state=server.state, error=server.error, tools=server.tool_names
            )
            for server in self._servers
        ]

    async def probe(self) -> None:
        """Ping every connected server (at most once a second, each for at most 2 s); one that does
        not answer is marked degraded and reconnected, so `/ready` reports an idle server's death
        at once rather than at its next periodic ping."""
        now = time.monotonic()
        if now - self._probed_at < 1.0:
            return
        self._probed_at = now
        await asyncio.gather(*(server.probe() for server in self._servers if server.state == "connected"))

    @property
    def degraded(self) -> bool:
        """Whether any server is not connected."""
        return any(server.state != "connected" for server in self._servers)

    def skills(self) -> list[AgentSkill]:
        """One agent-card skill per tool of each connected server, named as the model sees it."""
        connected = [server for server in self._servers if server.state == "connected"]
        names = _exposed_names([(server, server.tool_names) for server in connected])
        return [
            AgentSkill(
                id=names[(server.spec.name, tool)],
                name=names[(server.spec.name, tool)],
                description=description or f"Tool {tool} of MCP server {server.spec.name}",
                tags=["mcp", server.spec.name],
            )
            for server in connected
            for tool, description in server.tools
        ]
