"""The environment contract (DESIGN.md section 2) as one immutable settings object."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ._env import EnvReader, check_url
from ._errors import ConfigError

__all__ = [
    "McpServerSpec",
    "MockReply",
    "MockToolCall",
    "MockToolCalls",
    "Settings",
    "SubAgentSpec",
]

ToolCallMode = Literal["auto", "native", "string"]
MemoryType = Literal["local", "redis", "null"]
OtlpProtocol = Literal["grpc", "http/protobuf"]
LogFormat = Literal["text", "json"]

DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_WELL_KNOWN = "/.well-known/"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubAgentSpec(_Frozen):
    """A sub-agent reachable over HTTP at `url` (its base URL)."""

    name: str
    url: str
    card_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)


class McpServerSpec(_Frozen):
    """An MCP server reached over Streamable HTTP."""

    name: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict[str, str], repr=False)


class MockToolCall(_Frozen):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict[str, Any])


class MockToolCalls(_Frozen):
    tool_calls: list[MockToolCall] = Field(min_length=1)


MockReply = str | MockToolCalls
# built on first use: only a server with DEBUG_MOCK_RESPONSES reads it
_MOCK_REPLIES: TypeAdapter[list[MockReply]] = TypeAdapter(list[MockReply], config=ConfigDict(defer_build=True))


class Settings(_Frozen):
    """Everything PAIS reads from its environment; build it with `Settings.from_env()`."""

    agent_name: str
    agent_description: str = "AI Agent"
    agent_instructions: str | None = None
    agent_port: int = Field(default=8000, ge=1, le=65535)
    agent_url: str | None = None
    agent_api_key: str | None = Field(default=None, repr=False)

    model_api_url: str | None = None
    model_name: str | None = None
    model_api_key: str | None = Field(default=None, repr=False)
    model_timeout_seconds: float = 120.0
    debug_mock_responses: tuple[MockReply, ...] | None = None

    sub_agents: tuple[SubAgentSpec, ...] = ()
    delegation_timeout_seconds: float = 60.0
    delegation_max_depth: int = 3
    mcp_servers: tuple[McpServerSpec, ...] = ()
    mcp_timeout_seconds: float = 30.0

    agentic_loop_max_steps: int = Field(default=5, ge=1)
    tool_call_mode: ToolCallMode = "auto"

    memory_type: MemoryType = "local"
    memory_redis_url: str | None = Field(default=None, repr=False)
    memory_redis_key_prefix: str | None = None
    memory_session_ttl_seconds: int = 7 * 24 * 3600
    memory_context_limit: int = Field(default=6, ge=0)
    memory_max_sessions: int = Field(default=1000, ge=1)
    memory_max_session_events: int = Field(default=500, ge=1)
    memory_endpoints_enabled: bool = True
    session_lock_timeout_seconds: float = 10.0

    max_request_bytes: int = 1024 * 1024
    max_request_messages: int = 1000
    max_concurrent_runs: int = 0
    request_timeout_seconds: float = 300.0
    shutdown_grace_seconds: float = 25.0

    log_level: str = "INFO"
    log_format: LogFormat = "text"

    otel_enabled: bool = False
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_protocol: OtlpProtocol = "http/protobuf"
    otel_service_name: str | None = None
    otel_resource_attributes: str | None = None

    @property
    def model_base_url(self) -> str | None:
        """`MODEL_API_URL` with `/v1` appended when it has no version path."""
        if self.model_api_url is None:
            return None
        base = self.model_api_url.rstrip("/")
        return base if re.search(r"/v\d+$", base) else f"{base}/v1"

    @property
    def instructions(self) -> str:
        """`AGENT_INSTRUCTIONS`, or the default for an agent built from the environment."""
        return self.agent_instructions or DEFAULT_INSTRUCTIONS

    @property
    def redis_key_prefix(self) -> str:
        """`MEMORY_REDIS_KEY_PREFIX`, else `pais:<AGENT_NAME>` so agents sharing a Redis never share sessions."""
        return self.memory_redis_key_prefix or f"pais:{self.agent_name}"

    @property
    def service_name(self) -> str:
        return self.otel_service_name or self.agent_name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment.

        Raises:
            ConfigError: a variable is missing or invalid; the message names it.
        """
        env = EnvReader(os.environ if environ is None else environ)
        name = env.required("AGENT_NAME")
        if not _AGENT_NAME.match(name):
            raise ConfigError("AGENT_NAME", f"expected letters, digits, '.', '_' or '-' (max 63), got {name!r}")
        memory_enabled = env.boolean("MEMORY_ENABLED", True)
        memory_type: MemoryType = env.choice("MEMORY_TYPE", "local", ("local", "redis", "null"))
        if not memory_enabled:
            memory_type = "null"
        redis_url = env.url("MEMORY_REDIS_URL", schemes=("redis", "rediss", "unix"))
        if memory_type == "redis" and redis_url is None:
            raise ConfigError("MEMORY_REDIS_URL", "is required when MEMORY_TYPE=redis")
        otel_disabled = env.boolean("OTEL_SDK_DISABLED", False)
        model_api_url = env.url("MODEL_API_URL")
        model_name = env.text("MODEL_NAME")
        mock_replies = _mock_replies(env)
        if model_api_url is not None and model_name is None:
            raise ConfigError("MODEL_NAME", "is required when MODEL_API_URL is set")
        if model_api_url is None and model_name not in (None, "test") and mock_replies is None:
            raise ConfigError("MODEL_API_URL", f"is required for MODEL_NAME={model_name!r} (or use MODEL_NAME=test)")
        return cls(
            agent_name=name,
            agent_description=env.text("AGENT_DESCRIPTION", "AI Agent") or "AI Agent",
            agent_instructions=env.text("AGENT_INSTRUCTIONS"),
            agent_port=env.integer("AGENT_PORT", 8000, minimum=1, maximum=65535),
            agent_url=env.url("AGENT_URL"),
            agent_api_key=env.text("AGENT_API_KEY"),
            model_api_url=model_api_url,
            model_name=model_name,
            model_api_key=env.text("MODEL_API_KEY"),
            model_timeout_seconds=env.seconds("MODEL_TIMEOUT_SECONDS", 120.0),
            debug_mock_responses=mock_replies,
            sub_agents=_sub_agents(env),
            delegation_timeout_seconds=env.seconds("DELEGATION_TIMEOUT_SECONDS", 60.0),
            delegation_max_depth=env.integer("DELEGATION_MAX_DEPTH", 3, minimum=1, maximum=32),
            mcp_servers=_mcp_servers(env),
            mcp_timeout_seconds=env.seconds("MCP_TIMEOUT_SECONDS", 30.0),
            agentic_loop_max_steps=env.integer("AGENTIC_LOOP_MAX_STEPS", 5, minimum=1, maximum=1000),
            tool_call_mode=env.choice("TOOL_CALL_MODE", "auto", ("auto", "native", "string")),
            memory_type=memory_type,
            memory_redis_url=redis_url,
            memory_redis_key_prefix=env.text("MEMORY_REDIS_KEY_PREFIX"),
            memory_session_ttl_seconds=env.integer("MEMORY_SESSION_TTL_SECONDS", 7 * 24 * 3600, minimum=0),
            memory_context_limit=env.integer("MEMORY_CONTEXT_LIMIT", 6, minimum=0),
            memory_max_sessions=env.integer("MEMORY_MAX_SESSIONS", 1000, minimum=1),
            memory_max_session_events=env.integer("MEMORY_MAX_SESSION_EVENTS", 500, minimum=1),
            memory_endpoints_enabled=env.boolean("MEMORY_ENDPOINTS_ENABLED", True),
            session_lock_timeout_seconds=env.seconds("SESSION_LOCK_TIMEOUT_SECONDS", 10.0),
            max_request_bytes=env.integer("MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024),
            max_request_messages=env.integer("MAX_REQUEST_MESSAGES", 1000, minimum=1),
            max_concurrent_runs=env.integer("MAX_CONCURRENT_RUNS", 0, minimum=0),
            request_timeout_seconds=env.seconds("REQUEST_TIMEOUT_SECONDS", 300.0),
            shutdown_grace_seconds=env.seconds("SHUTDOWN_GRACE_SECONDS", 25.0),
            log_level=_log_level(env),
            log_format=env.choice("LOG_FORMAT", "text", ("text", "json")),
            otel_enabled=env.boolean("OTEL_ENABLED", False) and not otel_disabled,
            otel_exporter_otlp_endpoint=env.url("OTEL_EXPORTER_OTLP_ENDPOINT"),
            otel_exporter_otlp_protocol=env.choice(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", ("grpc", "http/protobuf")
            ),
            otel_service_name=env.text("OTEL_SERVICE_NAME"),
            otel_resource_attributes=_resource_attributes(env),
        )


def _log_level(env: EnvReader) -> str:
    level = (env.text("LOG_LEVEL", "INFO") or "INFO").upper()
    if level == "WARN":
        level = "WARNING"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError("LOG_LEVEL", f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")
    return level


def _mock_replies(env: EnvReader) -> tuple[MockReply, ...] | None:
    data = env.json_value("DEBUG_MOCK_RESPONSES")
    if data is None:
        return None
    try:
        replies = _MOCK_REPLIES.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            "DEBUG_MOCK_RESPONSES",
            f'expected a JSON list of strings or {{"tool_calls": [{{"name", "arguments"}}]}} '
            f"objects ({first['msg']} at {where or 'top level'})",
        ) from None
    if not replies:
        raise ConfigError("DEBUG_MOCK_RESPONSES", "must list at least one reply")
    return tuple(replies)


def _env_suffix(name: str) -> str:
    """The operator's upper-cased form of a name inside a variable name."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _sub_agent_key(env: EnvReader, name: str) -> str | None:
    return env.text(f"SUB_AGENT_{_env_suffix(name)}_API_KEY")


def _sub_agents(env: EnvReader) -> tuple[SubAgentSpec, ...]:
    agents: dict[str, SubAgentSpec] = {}
    for entry in env.names("AGENT_SUB_AGENTS"):
        name, sep, url = entry.partition(":")
        name, url = name.strip(), url.strip()
        if not sep or not name or not url:
            raise ConfigError("AGENT_SUB_AGENTS", f"expected name:url entries, got {entry!r}")
        if not _AGENT_NAME.match(name):
            raise ConfigError("AGENT_SUB_AGENTS", f"invalid sub-agent name {name!r} in {entry!r}")
        check_url("AGENT_SUB_AGENTS", url)
        if name in agents:
            raise ConfigError("AGENT_SUB_AGENTS", f"sub-agent {name!r} is listed twice")
        agents[name] = SubAgentSpec(name=name, url=url.rstrip("/"), api_key=_sub_agent_key(env, name))
    for name in env.names("PEER_AGENTS"):
        variable = f"PEER_AGENT_{_env_suffix(name)}_CARD_URL"
        card_url = env.required(variable)
        check_url(variable, card_url)
        base = card_url.split(_WELL_KNOWN, 1)[0].rstrip("/") if _WELL_KNOWN in card_url else card_url.rstrip("/")
        if name not in agents:
            agents[name] = SubAgentSpec(name=name, url=base, card_url=card_url, api_key=_sub_agent_key(env, name))
    return tuple(agents.values())


def _mcp_servers(env: EnvReader) -> tuple[McpServerSpec, ...]:
    servers: list[McpServerSpec] = []
    for name in env.names("MCP_SERVERS"):
        suffix = _env_suffix(name)
        found = env.first_of(f"MCP_SERVER_{name}_URL", f"MCP_SERVER_{suffix}_URL")
        if found is None:
            raise ConfigError(
                f"MCP_SERVER_{suffix}_URL",
                f"is required for MCP server {name!r} listed in MCP_SERVERS",
            )
        variable, url = found
        check_url(variable, url)
        headers_found = env.first_of(f"MCP_SERVER_{name}_HEADERS", f"MCP_SERVER_{suffix}_HEADERS")
        headers: dict[str, str] = {}
        if headers_found is not None:
            headers_var, _ = headers_found
            data = env.json_value(headers_var)
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):  # pyright: ignore[reportUnknownVariableType]
                raise ConfigError(
                    headers_var,
                    'expected a JSON object of strings, e.g. {"Authorization": "Bearer x"}',
                )
            headers = {str(k): str(v) for k, v in data.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        servers.append(McpServerSpec(name=name, url=url, headers=headers))
    return tuple(servers)


def _resource_attributes(env: EnvReader) -> str | None:
    value = env.text("OTEL_RESOURCE_ATTRIBUTES")
    if value is None:
        return None
    for pair in value.split(","):
        key, sep, _ = pair.partition("=")
        if pair.strip() and (not sep or not key.strip()):
            raise ConfigError("OTEL_RESOURCE_ATTRIBUTES", f"expected key=value pairs, got {pair!r}")
    return value
