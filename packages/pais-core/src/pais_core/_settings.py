"""The environment contract (DESIGN.md section 2) as one immutable settings object.

Each setting is declared once, as a field of `Settings`: its type and bounds (enforced alike by
`Settings.from_env()` and by `Settings(...)`), its default, and a `Var` naming its variable and
documenting it. The README's configuration table is rendered from these declarations.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from annotated_types import Ge, Gt, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ._env import EnvReader, check_url
from ._errors import ConfigError
from ._identity import API_KEY_PRINCIPAL, OutboundAuth

__all__ = [
    "McpServerSpec",
    "MockReply",
    "MockToolCall",
    "MockToolCalls",
    "ReadScope",
    "Settings",
    "SubAgentSpec",
    "TokenExchangeConfig",
    "Var",
]

ToolCallMode = Literal["auto", "native", "string"]
MemoryType = Literal["local", "redis", "null"]
OtlpProtocol = Literal["grpc", "http/protobuf"]
LogFormat = Literal["text", "json"]
StreamProgress = Literal["field", "content", "none"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
ReadScope = Literal["session", "principal", "agent"]

DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_WELL_KNOWN = "/.well-known/"
_TABLE_HEADER = "| Variable | Default | Meaning |\n|---|---|---|\n"


@dataclass(frozen=True)
class Var:
    """Documents one environment variable: its name, what it means, and how its default reads.

    As `Annotated` metadata of a `Settings` field it names the field's variable (default: the
    field name upper-cased); in `related` it documents a variable read alongside that field.
    """

    doc: str
    env: str | None = None
    default: str | None = None
    """The default as the README shows it, when rendering the field's default would mislead."""
    related: tuple[Var, ...] = ()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubAgentSpec(_Frozen):
    """A sub-agent reachable over HTTP at `url` (its base URL)."""

    name: str
    url: str
    card_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    auth: OutboundAuth | None = None
    """What it receives as `Authorization` (None: `exchange` when a token exchange target, else `none`)."""


class TokenExchangeConfig(_Frozen):
    """`KAOS_TOKEN_EXCHANGE_CONFIG`: where RFC 8693 exchanges happen and for which targets."""

    issuer: str
    token_endpoint: Annotated[str, AfterValidator(lambda url: _http_url(url) or url)]
    audience: str | None = None
    """Audience of every exchanged token; else each target's own name."""
    targets: tuple[str, ...] = ()
    """Names of the MCP servers and sub-agents whose calls carry exchanged tokens."""


class McpServerSpec(_Frozen):
    """An MCP server reached over Streamable HTTP."""

    name: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict[str, str], repr=False)
    auth: OutboundAuth | None = None
    """What it receives as `Authorization` (None: `exchange` when a token exchange target, else `none`)."""


class MockToolCall(_Frozen):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict[str, Any])


class MockToolCalls(_Frozen):
    tool_calls: list[MockToolCall] = Field(min_length=1)


MockReply = str | MockToolCalls
# built on first use: only a server with DEBUG_MOCK_RESPONSES reads it
_MOCK_REPLIES: TypeAdapter[list[MockReply]] = TypeAdapter(list[MockReply], config=ConfigDict(defer_build=True))


def _http_url(value: str | None) -> str | None:
    if value is not None:
        _check_url(value, ("http", "https"))
    return value


def _redis_url(value: str | None) -> str | None:
    if value is not None:
        _check_url(value, ("redis", "rediss", "unix"))
    return value


def _check_url(value: str, schemes: tuple[str, ...]) -> None:
    try:
        check_url("", value, schemes)
    except ConfigError as exc:
        raise ValueError(exc.problem) from None


def _agent_name(value: str) -> str:
    if not _AGENT_NAME.match(value):
        raise ValueError(f"expected letters, digits, '.', '_' or '-' (max 63), got {value!r}")
    return value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _log_level(value: object) -> object:
    if not isinstance(value, str):
        return value
    level = value.strip().upper()
    return "WARNING" if level == "WARN" else level


def _resource_attributes(value: str | None) -> str | None:
    for pair in (value or "").split(","):
        key, sep, _ = pair.partition("=")
        if pair.strip() and (not sep or not key.strip()):
            raise ValueError(f"expected key=value pairs, got {pair!r}")
    return value


def _regex_list(value: str | None) -> str | None:
    for pattern in (value or "").split(","):
        try:
            with warnings.catch_warnings():  # `re` warns (FutureWarning) about some valid patterns
                warnings.simplefilter("ignore")
                re.compile(pattern.strip())
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern.strip()!r}: {exc}") from None
    return value


_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


def _jwt_algorithms(value: str) -> str:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names or any(name not in _ASYMMETRIC for name in names):
        raise ValueError(f"expected comma-separated names from {', '.join(sorted(_ASYMMETRIC))}, got {value!r}")
    return ",".join(names)


def _json_object(value: object) -> object:
    """JSON text from the environment, or an object given in code."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("expected a JSON object") from None
    return value


def _mock_replies(value: object) -> object:
    """At least one reply, whether the list comes from code or from the environment's JSON."""
    if value == [] or value == ():
        raise ValueError("must list at least one reply")
    return value


HttpUrl = Annotated[str | None, AfterValidator(_http_url)]
Seconds = Annotated[float, Gt(0), Field(allow_inf_nan=False)]


class Settings(_Frozen):
    """Everything PAIS reads from its environment; build it with `Settings.from_env()`."""

    agent_name: Annotated[
        str,
        AfterValidator(_agent_name),
        Var("agent name; also the default `service.name` and the model id in `/v1/models`", default="required"),
    ]
    agent_description: Annotated[str, Var("agent card description")] = "AI Agent"
    agent_instructions: Annotated[
        str | None,
        Var(
            "system instructions; appended to a wrapped custom agent's own instructions only when set",
            default=f"`{DEFAULT_INSTRUCTIONS}`",
        ),
    ] = None
    agent_system_prompt: Annotated[
        str | None,
        Var("more system instructions (the KAOS operator's), appended to the instructions above or the agent's own"),
    ] = None
    agent_port: Annotated[int, Ge(1), Le(65535), Var("listen port of `python -m pais_server`")] = 8000
    agent_url: Annotated[
        HttpUrl,
        Var(
            "public base URL advertised in the agent card; else derived from the request"
            " (`X-Forwarded-Proto/Host/Prefix` honoured)",
            default="derived",
        ),
    ] = None
    agent_api_key: Annotated[
        str | None, Field(repr=False), Var("when set, clients must send `Authorization: Bearer <key>`")
    ] = None

    auth_jwks_url: Annotated[
        HttpUrl,
        Var(
            "JWKS of the identity provider: signed JWT bearer tokens are then accepted (beside `AGENT_API_KEY`"
            " when both are set); keys are cached and re-read when a token names an unknown `kid`"
        ),
    ] = None
    auth_issuer: Annotated[str | None, Var("required `iss` of accepted tokens; advertised in the agent card")] = None
    auth_audience: Annotated[str | None, Var("required `aud` of accepted tokens")] = None
    auth_algorithms: Annotated[
        str, AfterValidator(_jwt_algorithms), Var("comma-separated accepted JWS algorithms (asymmetric only)")
    ] = "RS256"
    auth_principal_claim: Annotated[str, Var("claim naming the caller (the principal)")] = "sub"
    auth_admin_claim: Annotated[
        str | None,
        Var(
            "`claim` (true marks an administrator) or `claim=value` (the claim, a string, space-separated"
            " string or list, contains value), e.g. `roles=pais-admin`; administrators read every session"
        ),
    ] = None

    agent_auth_identity: Annotated[
        str | None,
        Var(
            "the agent's own logical identity (KAOS sets `kaos://agent/<namespace>/<name>`): the principal"
            " owning the runs it starts itself (`AUTONOMOUS_GOAL`), advertised in the agent card; a token"
            " naming it is refused",
            default="`AGENT_NAME`",
        ),
    ] = None
    agent_auth_token_file: Annotated[
        str | None,
        Var("file holding the agent's own token (re-read when it changes), sent as `x-agent-authorization`"),
    ] = None
    agent_auth_client_id: Annotated[
        str | None, Var("client id of the agent's own token (client credentials at `AGENT_AUTH_TOKEN_ENDPOINT`)")
    ] = None
    agent_auth_client_secret: Annotated[
        str | None,
        Field(repr=False),
        Var(
            "client secret of `AGENT_AUTH_CLIENT_ID`",
            related=(Var("file holding that secret", env="AGENT_AUTH_CLIENT_SECRET_FILE", default="none"),),
        ),
    ] = None
    agent_auth_token_endpoint: Annotated[
        HttpUrl, Var("OAuth token endpoint of the agent's client credentials", default="the exchange's endpoint")
    ] = None
    token_exchange: Annotated[
        TokenExchangeConfig | None,
        BeforeValidator(_json_object),
        Var(
            "JSON `{issuer, token_endpoint, audience, targets}`: calls to the `targets` (MCP server and sub-agent"
            " names) carry the caller's token exchanged (RFC 8693; actor = the agent's own token) for `audience`"
            " (else the target's name)",
            env="KAOS_TOKEN_EXCHANGE_CONFIG",
            related=(
                Var(
                    "`none` (its static key or headers), `forward` (the caller's token, for trusted internal"
                    " targets) or `exchange`",
                    env="MCP_SERVER_<name>_AUTH,SUB_AGENT_<NAME>_AUTH",
                    default="`exchange` for exchange targets, else `none`",
                ),
            ),
        ),
    ] = None

    model_api_url: Annotated[
        HttpUrl,
        Var(
            "OpenAI-compatible base URL (Ollama, LiteLLM, llama.cpp); `/v1` is added if missing."
            " Unset: Pydantic AI's offline `TestModel`"
        ),
    ] = None
    model_name: Annotated[
        str | None, Var("model id; required with `MODEL_API_URL`; `test` selects the offline `TestModel`")
    ] = None
    model_api_key: Annotated[str | None, Field(repr=False), Var("bearer key for the model API")] = None
    model_timeout_seconds: Annotated[Seconds, Var("timeout of one model API request (504 when exceeded)")] = 120.0
    debug_mock_responses: Annotated[
        tuple[MockReply, ...] | None,
        BeforeValidator(_mock_replies),
        Var(
            'JSON list of scripted replies used instead of a model: strings or `{"tool_calls": [{"name",'
            ' "arguments"}]}`; each request replays the list from its start'
        ),
    ] = None

    sub_agents: Annotated[
        tuple[SubAgentSpec, ...],
        Var(
            "sub-agents as `name:url,name:url`",
            env="AGENT_SUB_AGENTS",
            related=(
                Var(
                    "sub-agent names, each with `PEER_AGENT_<NAME>_CARD_URL` (NAME upper-cased, `-` to `_`);"
                    " merged with `AGENT_SUB_AGENTS`",
                    env="PEER_AGENTS",
                    default="empty",
                ),
                Var("agent card URL of a `PEER_AGENTS` entry", env="PEER_AGENT_<NAME>_CARD_URL", default="none"),
                Var("bearer key sent to that sub-agent", env="SUB_AGENT_<NAME>_API_KEY", default="none"),
            ),
        ),
    ] = ()
    delegation_timeout_seconds: Annotated[Seconds, Var("timeout of one delegation call")] = 60.0
    delegation_max_depth: Annotated[
        int, Ge(1), Le(32), Var("maximum delegation depth (cycles end here with a clear error)")
    ] = 3
    mcp_servers: Annotated[
        tuple[McpServerSpec, ...],
        Var(
            "comma-separated MCP server names",
            env="MCP_SERVERS",
            related=(
                Var(
                    "Streamable HTTP URL of that MCP server (name as written, or upper-cased with `-` to `_`)",
                    env="MCP_SERVER_<name>_URL",
                    default="none",
                ),
                Var(
                    "JSON object of extra HTTP headers for that MCP server",
                    env="MCP_SERVER_<name>_HEADERS",
                    default="none",
                ),
            ),
        ),
    ] = ()
    mcp_timeout_seconds: Annotated[Seconds, Var("MCP request timeout")] = 30.0

    agentic_loop_max_steps: Annotated[
        int, Ge(1), Le(1000), Var("maximum model requests per run (then a 500 `max_steps_exceeded` error)")
    ] = 5
    tool_call_mode: Annotated[ToolCallMode, BeforeValidator(_lower), Var("`auto`, `native` or `string`")] = "auto"
    stream_progress: Annotated[
        StreamProgress,
        BeforeValidator(_lower),
        Var(
            "how streamed chats carry tool and delegation progress: `field` (a `progress` field beside an empty"
            " `delta`), `content` (also each call as one JSON object in `delta.content`, what the KAOS UI and CLI"
            " parse), `none`"
        ),
    ] = "field"

    autonomous_goal: Annotated[
        str | None,
        Var(
            "a goal the agent pursues from start-up as one autonomous A2A task (once per agent: with Redis,"
            " one replica claims it), within the `TASK_MAX_*` budgets"
        ),
    ] = None
    autonomous_interval_seconds: Annotated[
        float, Ge(0), Field(allow_inf_nan=False), Var("default pause between two iterations of an autonomous task")
    ] = 0.0
    autonomous_max_iter_runtime_seconds: Annotated[
        Seconds, Var("time limit of one iteration of an autonomous task (the task fails when exceeded)")
    ] = 60.0
    task_max_iterations: Annotated[
        int, Ge(0), Var("default `maxIterations` budget of an autonomous task (`0` = unlimited)")
    ] = 10
    task_max_runtime_seconds: Annotated[
        float,
        Ge(0),
        Field(allow_inf_nan=False),
        Var("default `maxRuntimeSeconds` budget of an autonomous task (`0` = unlimited)"),
    ] = 300.0
    task_max_tool_calls: Annotated[
        int, Ge(0), Var("default `maxToolCalls` budget of an autonomous task (`0` = unlimited)")
    ] = 50

    memory_type: Annotated[
        MemoryType,
        BeforeValidator(_lower),
        Var(
            "`local`, `redis` or `null`",
            related=(Var("`false` means `NullMemory`", env="MEMORY_ENABLED", default="`true`"),),
        ),
    ] = "local"
    memory_redis_url: Annotated[
        str | None,
        AfterValidator(_redis_url),
        Field(repr=False),
        Var("`redis://` URL; required when `MEMORY_TYPE=redis`"),
    ] = None
    memory_redis_key_prefix: Annotated[
        str | None,
        Var(
            "prefix of every Redis key (replicas of one agent share it; different agents never share sessions)",
            default="`pais:<AGENT_NAME>`",
        ),
    ] = None
    memory_redis_max_connections: Annotated[
        int,
        Ge(1),
        Var(
            "Redis connections per replica; a request waits up to 5 s for a free one, then gets 503"
            " `dependency_unavailable` with `Retry-After`"
        ),
    ] = 256
    memory_session_ttl_seconds: Annotated[
        int, Ge(0), Var("sliding TTL of a Redis session; `0` keeps sessions forever", default="`604800` (7 days)")
    ] = 7 * 24 * 3600
    memory_read_scope: Annotated[
        ReadScope | None,
        BeforeValidator(_lower),
        Var(
            "what a caller (a token's principal, or `api-key` for the static key) may read: `session` (its own"
            " sessions by id, no listings), `principal` (also lists its own) or `agent` (every session of the"
            " agent); administrators read all",
            default="`principal` with `AUTH_JWKS_URL`",
        ),
    ] = None
    memory_context_limit: Annotated[int, Ge(0), Var("turns of history given to the model (a turn is never split)")] = 6
    memory_max_sessions: Annotated[
        int, Ge(1), Var("sessions kept (least recently written dropped first; Redis also expires them by TTL)")
    ] = 1000
    memory_max_session_events: Annotated[int, Ge(1), Var("events kept per session (oldest dropped first)")] = 500
    memory_short_term_token_budget: Annotated[
        Annotated[int, Ge(64)] | None,
        Var(
            "tokens of replayed history plus instructions and the new prompt; the oldest whole turns are dropped "
            "to fit (see Memory)",
            default="unset (only `MEMORY_CONTEXT_LIMIT` bounds history)",
        ),
    ] = None
    memory_rolling_summary: Annotated[
        bool, Var("`true`: turns that fall out of the history are summarised by the model into a running summary")
    ] = False
    memory_summary_model: Annotated[
        str | None, Var("model id (at `MODEL_API_URL`) that writes summaries", default="the agent's model")
    ] = None
    memory_endpoints_enabled: Annotated[bool, Var("`false` removes `/memory/*`")] = True
    session_lock_timeout_seconds: Annotated[
        Seconds, Var("how long a request waits for another request on the same session before 409")
    ] = 10.0
    run_log_retention_seconds: Annotated[
        Seconds, Var("how long a run's event log stays readable (subscribe, resume) after the run ended")
    ] = 3600.0
    a2a_task_lease_seconds: Annotated[
        Seconds,
        Var("lease of a running A2A task; another replica ends a `working` task `failed` once its lease expired"),
    ] = 30.0
    a2a_push_allowed_hosts: Annotated[
        str,
        Var(
            "comma-separated webhook hosts allowed for A2A push notifications although they resolve to "
            "private, loopback or link-local addresses (others are refused)"
        ),
    ] = ""

    max_request_bytes: Annotated[int, Ge(1024), Var("request body limit (413 above it)")] = 1024 * 1024
    max_request_messages: Annotated[int, Ge(1), Var("messages per chat request (400 above it)")] = 1000
    max_concurrent_runs: Annotated[
        int,
        Ge(0),
        Var(
            "agent runs per replica at once; more get 503 `server_busy` with `Retry-After: 1`",
            default="`0` (unlimited)",
        ),
    ] = 0
    request_timeout_seconds: Annotated[Seconds, Var("whole-request timeout (504 when exceeded)")] = 300.0
    paused_run_ttl_seconds: Annotated[
        Seconds, Var("how long a run paused on client tool calls waits for their results before it is dropped")
    ] = 86400.0
    tools_require_approval: Annotated[
        str,
        Var(
            "tools whose calls wait for a person's approval: comma-separated names or globs "
            "(`delegate_to_*`, `<mcp-server>.*` for one MCP server's tools, `*`)"
        ),
    ] = ""
    approval_timeout_seconds: Annotated[
        Seconds, Var("how long a call awaits approval; after it the call counts as denied")
    ] = 86400.0
    shutdown_grace_seconds: Annotated[Seconds, Var("how long in-flight requests may finish after SIGTERM")] = 25.0
    http_keep_alive_seconds: Annotated[
        int, Ge(1), Var("an idle keep-alive connection is closed this many seconds after its last response")
    ] = 5
    http_read_timeout_seconds: Annotated[
        Seconds,
        Var(
            "a connection must deliver a whole request (headers and body) within this time of its first byte,"
            " and a new connection its first request, or it is closed"
        ),
    ] = 30.0

    log_level: Annotated[
        LogLevel, BeforeValidator(_log_level), Var("`DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`")
    ] = "INFO"
    log_format: Annotated[LogFormat, BeforeValidator(_lower), Var("`text` or `json`")] = "text"

    otel_enabled: Annotated[
        bool,
        Var(
            "export traces, metrics and logs over OTLP",
            related=(
                Var(
                    "`true` disables telemetry whatever `OTEL_ENABLED` says", env="OTEL_SDK_DISABLED", default="`false`"
                ),
            ),
        ),
    ] = False
    otel_exporter_otlp_endpoint: Annotated[
        HttpUrl,
        Var(
            "collector URL",
            related=(
                Var(
                    "per-signal collector URL (`TRACES`, `METRICS`, `LOGS`), used as given",
                    env="OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT",
                    default="`OTEL_EXPORTER_OTLP_ENDPOINT`",
                ),
            ),
        ),
    ] = None
    otel_exporter_otlp_protocol: Annotated[
        OtlpProtocol,
        BeforeValidator(_lower),
        Var(
            "`grpc` or `http/protobuf`",
            related=(
                Var(
                    "`none` turns one signal off"
                    " (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`)",
                    env="OTEL_<SIGNAL>_EXPORTER",
                    default="`otlp`",
                ),
                Var(
                    "`true` records prompts and answers on Pydantic AI's spans",
                    env="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                    default="`false`",
                ),
            ),
        ),
    ] = "http/protobuf"
    otel_service_name: Annotated[str | None, Var("`service.name` resource attribute", default="`AGENT_NAME`")] = None
    otel_resource_attributes: Annotated[
        str | None,
        AfterValidator(_resource_attributes),
        Var(
            "extra resource attributes, `key=value,key=value`",
            related=(
                Var(
                    "e.g. `parentbased_traceidratio` and `0.1` keep 10% of traces; runs in dropped traces skip"
                    " Pydantic AI's instrumentation (metrics and logs stay complete)",
                    env="OTEL_TRACES_SAMPLER,OTEL_TRACES_SAMPLER_ARG",
                    default="`parentbased_always_on`",
                ),
            ),
        ),
    ] = None

    otel_python_fastapi_excluded_urls: Annotated[
        str | None,
        AfterValidator(_regex_list),
        Var(
            "comma-separated regular expressions searched in the request path: matching requests get no server"
            " span and no request metrics (probes and the agent card never do)"
        ),
    ] = None

    @model_validator(mode="wrap")
    @classmethod
    def _named_errors(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Settings:
        """Turn validation errors into one `ConfigError` naming the variable, on every construction path."""
        try:
            settings = cast(Settings, handler(data))
        except ValidationError as exc:
            raise _config_error(exc.errors()[0]) from None
        settings._check_combinations()
        return settings

    def _check_combinations(self) -> None:
        if self.auth_jwks_url is not None:
            for variable, value in (("AUTH_ISSUER", self.auth_issuer), ("AUTH_AUDIENCE", self.auth_audience)):
                if not value:
                    raise ConfigError(variable, "is required with AUTH_JWKS_URL (tokens are checked against it)")
        elif self.auth_issuer or self.auth_audience:
            raise ConfigError("AUTH_JWKS_URL", "is required with AUTH_ISSUER or AUTH_AUDIENCE")
        if self.token_exchange is None:
            for target in (*self.sub_agents, *self.mcp_servers):
                if target.auth == "exchange":
                    raise ConfigError("KAOS_TOKEN_EXCHANGE_CONFIG", f"is required: {target.name} exchanges tokens")
        if self.agent_auth_client_id is not None:
            if not self.agent_auth_client_secret:
                raise ConfigError("AGENT_AUTH_CLIENT_SECRET", "is required with AGENT_AUTH_CLIENT_ID")
            if self.agent_auth_token_endpoint is None and self.token_exchange is None:
                raise ConfigError("AGENT_AUTH_TOKEN_ENDPOINT", "is required with AGENT_AUTH_CLIENT_ID")
        if self.agent_identity == API_KEY_PRINCIPAL.id:
            raise ConfigError("AGENT_AUTH_IDENTITY", f"must be set: {API_KEY_PRINCIPAL.id!r} names static-key callers")
        if self.memory_type == "redis" and self.memory_redis_url is None:
            raise ConfigError("MEMORY_REDIS_URL", "is required when MEMORY_TYPE=redis")
        if self.model_api_url is not None and self.model_name is None:
            raise ConfigError("MODEL_NAME", "is required when MODEL_API_URL is set")
        if self.model_api_url is None and self.model_name not in (None, "test") and self.debug_mock_responses is None:
            raise ConfigError(
                "MODEL_API_URL", f"is required for MODEL_NAME={self.model_name!r} (or use MODEL_NAME=test)"
            )

    @property
    def model_base_url(self) -> str | None:
        """`MODEL_API_URL` with `/v1` appended when it has no version path."""
        if self.model_api_url is None:
            return None
        base = self.model_api_url.rstrip("/")
        return base if re.search(r"/v\d+$", base) else f"{base}/v1"

    @property
    def jwt_algorithms(self) -> list[str]:
        """`AUTH_ALGORITHMS` as a list."""
        return self.auth_algorithms.split(",")

    @property
    def push_allowed_hosts(self) -> frozenset[str]:
        """`A2A_PUSH_ALLOWED_HOSTS` as a set of lower-cased host names."""
        return frozenset(host.strip().lower() for host in self.a2a_push_allowed_hosts.split(",") if host.strip())

    @property
    def agent_identity(self) -> str:
        """`AGENT_AUTH_IDENTITY`, else `AGENT_NAME`: who the agent is when it acts as itself."""
        return self.agent_auth_identity or self.agent_name

    @property
    def read_scope(self) -> ReadScope:
        """`MEMORY_READ_SCOPE`, else `principal` when callers are verified and `agent` when they are not."""
        return self.memory_read_scope or ("principal" if self.auth_jwks_url else "agent")

    @property
    def instructions(self) -> str:
        """`AGENT_INSTRUCTIONS` (or the default) and `AGENT_SYSTEM_PROMPT`, for an agent built from the environment."""
        return "\n\n".join(
            text for text in (self.agent_instructions or DEFAULT_INSTRUCTIONS, self.agent_system_prompt) if text
        )

    @property
    def added_instructions(self) -> str | None:
        """What a wrapped custom agent gets after its own instructions: the variables that are set, or None."""
        return "\n\n".join(text for text in (self.agent_instructions, self.agent_system_prompt) if text) or None

    @property
    def redis_key_prefix(self) -> str:
        """`MEMORY_REDIS_KEY_PREFIX`, else `pais:<AGENT_NAME>` so agents sharing a Redis never share sessions."""
        return self.memory_redis_key_prefix or f"pais:{self.agent_name}"

    @property
    def service_name(self) -> str:
        return self.otel_service_name or self.agent_name

    @classmethod
    def variables(cls) -> Iterator[tuple[Var, Any]]:
        """Every documented variable in table order, with its field's default (`None` for related ones)."""
        for name, info in cls.model_fields.items():
            var = _var_of(name, info)
            yield var, (... if info.is_required() else info.default)
            for related in var.related:
                yield related, None

    @classmethod
    def markdown_table(cls) -> str:
        """The README's configuration table, rendered from the declarations."""
        rows = (
            f"| {', '.join(f'`{name}`' for name in (var.env or '').split(','))} | {var.default or _shown(default)}"
            f" | {var.doc} |\n"
            for var, default in cls.variables()
        )
        return _TABLE_HEADER + "".join(rows)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment.

        Raises:
            ConfigError: a variable is missing or invalid; the message names it.
        """
        env = EnvReader(os.environ if environ is None else environ)
        data: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            variable = _var_of(name, info).env or ""
            if variable not in _COMPOSITE and (value := env.raw(variable)) is not None:
                data[name] = value
        if not env.boolean("MEMORY_ENABLED", True):
            data["memory_type"] = "null"
        if env.boolean("OTEL_SDK_DISABLED", False):
            data["otel_enabled"] = False
        data["sub_agents"] = _sub_agents(env)
        data["mcp_servers"] = _mcp_servers(env)
        data["debug_mock_responses"] = env.json_value("DEBUG_MOCK_RESPONSES")
        if (secret_file := env.text("AGENT_AUTH_CLIENT_SECRET_FILE")) and "agent_auth_client_secret" not in data:
            data["agent_auth_client_secret"] = _read_secret("AGENT_AUTH_CLIENT_SECRET_FILE", secret_file)
        return cls(**data)


_COMPOSITE = frozenset({"AGENT_SUB_AGENTS", "MCP_SERVERS", "DEBUG_MOCK_RESPONSES"})


def _read_secret(variable: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().strip()
    except OSError as exc:
        raise ConfigError(variable, f"cannot read {path}: {exc.strerror}") from None


def _target_auth(env: EnvReader, *variables: str) -> OutboundAuth | None:
    found = env.first_of(*variables)
    if found is None:
        return None
    variable, value = found
    mode = value.strip().lower()
    if mode not in ("none", "forward", "exchange"):
        raise ConfigError(variable, f"expected one of none, forward, exchange, got {value!r}")
    return mode


def _var_of(name: str, info: FieldInfo) -> Var:
    var = next((item for item in info.metadata if isinstance(item, Var)), None)
    if var is None:
        raise TypeError(f"Settings.{name} has no Var(...) documenting its variable")
    return var if var.env else Var(var.doc, env=name.upper(), default=var.default, related=var.related)


def _shown(default: Any) -> str:
    if default is ...:
        return "required"
    if default is None:
        return "none"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    if default == ():
        return "empty"
    return f"`{default}`"


def _config_error(error: ErrorDetails) -> ConfigError:
    loc = error["loc"]
    field = str(loc[0]) if loc else ""
    info = Settings.model_fields.get(field)
    variable = _var_of(field, info).env or field if info is not None else field.upper()
    if field == "debug_mock_responses" and error["type"] != "value_error":
        where = ".".join(str(part) for part in loc[1:]) or "top level"
        return ConfigError(
            variable,
            f'expected a JSON list of strings or {{"tool_calls": [{{"name", "arguments"}}]}} '
            f"objects ({error['msg']} at {where})",
        )
    return ConfigError(variable, _problem(error, info))


def _problem(error: ErrorDetails, info: FieldInfo | None) -> str:
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind == "missing":
        return "is required"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"expected an integer, got {value!r}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number of seconds, got {value!r}"
    if kind == "finite_number":
        return f"expected a finite number of seconds, got {value}"
    if kind == "greater_than" and ctx.get("gt") == 0:
        return f"expected a positive number of seconds, got {value}"
    if kind in ("greater_than_equal", "less_than_equal") and info is not None:
        # bounds sit on the field, or inside an optional type (`Annotated[int, Ge(1)] | None`: then in ctx)
        low = next((m.ge for m in info.metadata if isinstance(m, Ge)), ctx.get("ge"))
        high = next((m.le for m in info.metadata if isinstance(m, Le)), ctx.get("le"))
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        return f"expected an integer {bounds}, got {value}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {value!r}"
    if kind == "literal_error":
        return f"expected one of {', '.join(map(str, _choices(info)))}, got {value!r}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


def _choices(info: FieldInfo | None) -> tuple[object, ...]:
    annotation = getattr(info, "annotation", None)
    return getattr(annotation, "__args__", ())


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
        agents[name] = SubAgentSpec(
            name=name,
            url=url.rstrip("/"),
            api_key=_sub_agent_key(env, name),
            auth=_target_auth(env, f"SUB_AGENT_{_env_suffix(name)}_AUTH"),
        )
    for name in env.names("PEER_AGENTS"):
        variable = f"PEER_AGENT_{_env_suffix(name)}_CARD_URL"
        card_url = env.required(variable)
        check_url(variable, card_url)
        base = card_url.split(_WELL_KNOWN, 1)[0].rstrip("/") if _WELL_KNOWN in card_url else card_url.rstrip("/")
        if name not in agents:
            agents[name] = SubAgentSpec(
                name=name,
                url=base,
                card_url=card_url,
                api_key=_sub_agent_key(env, name),
                auth=_target_auth(env, f"SUB_AGENT_{_env_suffix(name)}_AUTH"),
            )
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
        auth = _target_auth(env, f"MCP_SERVER_{name}_AUTH", f"MCP_SERVER_{suffix}_AUTH")
        servers.append(McpServerSpec(name=name, url=url, headers=headers, auth=auth))
    return tuple(servers)
