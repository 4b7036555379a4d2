"""The environment contract: defaults, parsing, and one clear message per invalid variable."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Ge, Gt, Le

from pais_core import ConfigError, McpServerSpec, MockToolCalls, Settings, SubAgentSpec

README = Path(__file__).resolve().parents[3] / "README.md"


def _env(**extra: str) -> dict[str, str]:
    return {"AGENT_NAME": "agent-1", **extra}


def test_defaults() -> None:
    settings = Settings.from_env(_env())
    assert settings.agent_name == "agent-1"
    assert settings.agent_description == "AI Agent"
    assert settings.instructions == "You are a helpful assistant."
    assert settings.agent_instructions is None
    assert (settings.agent_port, settings.agentic_loop_max_steps, settings.tool_call_mode) == (8000, 5, "auto")
    assert (settings.memory_type, settings.memory_context_limit) == ("local", 6)
    assert (settings.memory_max_sessions, settings.memory_max_session_events) == (1000, 500)
    assert settings.sub_agents == ()
    assert settings.mcp_servers == ()
    assert settings.log_level == "INFO"
    assert settings.otel_enabled is False
    assert settings.service_name == "agent-1"


def test_model_url_gets_v1_only_when_missing() -> None:
    assert Settings.from_env(_env(MODEL_API_URL="http://ollama:11434", MODEL_NAME="m")).model_base_url == (
        "http://ollama:11434/v1"
    )
    assert Settings.from_env(_env(MODEL_API_URL="http://llm:4000/v1/", MODEL_NAME="m")).model_base_url == (
        "http://llm:4000/v1"
    )


def test_sub_agents_and_peer_agents_merge() -> None:
    settings = Settings.from_env(
        _env(
            AGENT_SUB_AGENTS="worker-a:http://worker-a:8000, worker-b:http://worker-b:8000/",
            PEER_AGENTS="worker-c,worker-a",
            PEER_AGENT_WORKER_C_CARD_URL="http://worker-c:8000/.well-known/agent-card.json",
            PEER_AGENT_WORKER_A_CARD_URL="http://elsewhere:1/.well-known/agent.json",
            SUB_AGENT_WORKER_B_API_KEY="secret",
        )
    )
    assert settings.sub_agents == (
        SubAgentSpec(name="worker-a", url="http://worker-a:8000"),
        SubAgentSpec(name="worker-b", url="http://worker-b:8000", api_key="secret"),
        SubAgentSpec(
            name="worker-c", url="http://worker-c:8000", card_url="http://worker-c:8000/.well-known/agent-card.json"
        ),
    )


def test_mcp_servers_accept_operator_and_upper_case_names() -> None:
    settings = Settings.from_env(
        _env(
            MCP_SERVERS="python-runner,k8s",
            **{"MCP_SERVER_python-runner_URL": "http://python-runner-svc:8000"},
            MCP_SERVER_K8S_URL="http://k8s:9000/mcp",
            MCP_SERVER_K8S_HEADERS='{"Authorization": "Bearer t"}',
        )
    )
    assert settings.mcp_servers == (
        McpServerSpec(name="python-runner", url="http://python-runner-svc:8000"),
        McpServerSpec(name="k8s", url="http://k8s:9000/mcp", headers={"Authorization": "Bearer t"}),
    )


def test_memory_disabled_means_null() -> None:
    assert Settings.from_env(_env(MEMORY_ENABLED="false", MEMORY_TYPE="local")).memory_type == "null"
    assert Settings.from_env(_env(MEMORY_TYPE="null")).memory_type == "null"
    assert Settings.from_env(_env(MEMORY_TYPE="REDIS", MEMORY_REDIS_URL="redis://r:6379/0")).memory_type == "redis"


def test_mock_responses_parse() -> None:
    settings = Settings.from_env(
        _env(DEBUG_MOCK_RESPONSES='["hi", {"tool_calls": [{"name": "delegate_to_a", "arguments": {"task": "x"}}]}]')
    )
    assert settings.debug_mock_responses is not None
    first, second = settings.debug_mock_responses
    assert first == "hi"
    assert isinstance(second, MockToolCalls)
    assert second.tool_calls[0].arguments == {"task": "x"}


def test_otel_sdk_disabled_wins() -> None:
    assert Settings.from_env(_env(OTEL_ENABLED="true")).otel_enabled is True
    assert Settings.from_env(_env(OTEL_ENABLED="true", OTEL_SDK_DISABLED="true")).otel_enabled is False


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({}, "AGENT_NAME", "is required"),
        ({"AGENT_NAME": "has space"}, "AGENT_NAME", "expected letters"),
        ({"TOOL_CALL_MODE": "foo"}, "TOOL_CALL_MODE", "expected one of auto, native, string, got 'foo'"),
        ({"MEMORY_TYPE": "redis"}, "MEMORY_REDIS_URL", "required when MEMORY_TYPE=redis"),
        ({"MEMORY_TYPE": "sql"}, "MEMORY_TYPE", "expected one of local, redis, null"),
        ({"MEMORY_TYPE": "redis", "MEMORY_REDIS_URL": "http://x"}, "MEMORY_REDIS_URL", "redis://"),
        ({"AGENT_SUB_AGENTS": "worker-a"}, "AGENT_SUB_AGENTS", "expected name:url entries, got 'worker-a'"),
        ({"AGENT_SUB_AGENTS": "a:ftp://x"}, "AGENT_SUB_AGENTS", "http://"),
        ({"AGENT_SUB_AGENTS": "a:http://x,a:http://y"}, "AGENT_SUB_AGENTS", "listed twice"),
        ({"PEER_AGENTS": "w"}, "PEER_AGENT_W_CARD_URL", "is required"),
        ({"AGENT_PORT": "abc"}, "AGENT_PORT", "expected an integer, got 'abc'"),
        ({"AGENT_PORT": "70000"}, "AGENT_PORT", "between 1 and 65535"),
        ({"AGENTIC_LOOP_MAX_STEPS": "0"}, "AGENTIC_LOOP_MAX_STEPS", "between 1 and 1000"),
        ({"MEMORY_ENABLED": "maybe"}, "MEMORY_ENABLED", "expected true or false"),
        ({"MEMORY_CONTEXT_LIMIT": "-1"}, "MEMORY_CONTEXT_LIMIT", ">= 0"),
        ({"MEMORY_SHORT_TERM_TOKEN_BUDGET": "10"}, "MEMORY_SHORT_TERM_TOKEN_BUDGET", "an integer >= 64, got 10"),
        ({"MODEL_API_URL": "not a url", "MODEL_NAME": "m"}, "MODEL_API_URL", "absolute"),
        ({"MODEL_API_URL": "http://m:1"}, "MODEL_NAME", "required when MODEL_API_URL"),
        ({"MODEL_NAME": "llama3"}, "MODEL_API_URL", "is required for MODEL_NAME"),
        ({"DEBUG_MOCK_RESPONSES": "[oops"}, "DEBUG_MOCK_RESPONSES", "not valid JSON"),
        ({"DEBUG_MOCK_RESPONSES": '[{"tool_calls": []}]'}, "DEBUG_MOCK_RESPONSES", "expected a JSON list"),
        ({"DEBUG_MOCK_RESPONSES": "[]"}, "DEBUG_MOCK_RESPONSES", "at least one"),
        ({"MCP_SERVERS": "tools"}, "MCP_SERVER_TOOLS_URL", "is required"),
        (
            {"MCP_SERVERS": "t", "MCP_SERVER_T_URL": "http://t", "MCP_SERVER_T_HEADERS": "[1]"},
            "MCP_SERVER_T_HEADERS",
            "JSON object",
        ),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "expected one of DEBUG, INFO"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "smoke"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc, http/protobuf"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "a=1,oops"}, "OTEL_RESOURCE_ATTRIBUTES", "key=value"),
        ({"REQUEST_TIMEOUT_SECONDS": "0"}, "REQUEST_TIMEOUT_SECONDS", "positive"),
        ({"STREAM_PROGRESS": "chunks"}, "STREAM_PROGRESS", "expected one of field, content, none"),
        (
            {"OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "/health,(unclosed"},
            "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS",
            "invalid regular expression '(unclosed'",
        ),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], variable: str, fragment: str) -> None:
    full = env if "AGENT_NAME" in env or not env else _env(**env)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(full)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"invalid configuration: {variable}: ")
    assert fragment in str(caught.value)


def test_blank_values_count_as_unset() -> None:
    assert Settings.from_env(_env(AGENT_PORT="  ", MEMORY_TYPE="")).agent_port == 8000


def test_blank_values_count_as_unset_for_every_variable() -> None:
    blanks = {name: " " for var, _ in Settings.variables() for name in (var.env or "").split(",") if "<" not in name}
    assert Settings.from_env({**blanks, "AGENT_NAME": "agent-1"}) == Settings(agent_name="agent-1")


def _out_of_range() -> list[tuple[str, str, Any]]:
    """For every bounded setting: (field, its variable, a value just outside a bound)."""
    cases: list[tuple[str, str, Any]] = []
    for var, _ in Settings.variables():
        field = (var.env or "").lower()
        info = Settings.model_fields.get(field)
        if info is None:
            continue
        for bound in info.metadata:
            if isinstance(bound, Ge):
                cases.append((field, var.env or "", int(bound.ge) - 1))  # pyright: ignore[reportArgumentType]
            elif isinstance(bound, Le):
                cases.append((field, var.env or "", int(bound.le) + 1))  # pyright: ignore[reportArgumentType]
            elif isinstance(bound, Gt):
                cases.extend([(field, var.env or "", bound.gt), (field, var.env or "", -1)])
        if info.annotation is float:
            cases.append((field, var.env or "", math.inf))
    return cases


@pytest.mark.parametrize(("field", "variable", "value"), _out_of_range())
def test_direct_construction_rejects_what_the_environment_rejects(field: str, variable: str, value: Any) -> None:
    with pytest.raises(ConfigError) as from_env:
        Settings.from_env(_env(**{variable: str(value)}))
    with pytest.raises(ConfigError) as direct:
        Settings(agent_name="agent-1", **{field: value})
    assert (direct.value.variable, str(direct.value)) == (from_env.value.variable, str(from_env.value))
    assert direct.value.variable == variable


def test_every_bounded_setting_is_checked() -> None:
    checked = {field for field, _, _ in _out_of_range()}
    assert {"agent_port", "delegation_max_depth", "agentic_loop_max_steps", "memory_session_ttl_seconds"} <= checked
    assert {"request_timeout_seconds", "model_timeout_seconds", "max_request_bytes"} <= checked


@pytest.mark.parametrize(
    ("env", "kwargs"),
    [
        ({"AGENT_NAME": "has space"}, {"agent_name": "has space"}),
        ({"TOOL_CALL_MODE": "foo"}, {"tool_call_mode": "foo"}),
        ({"MEMORY_TYPE": "redis"}, {"memory_type": "redis"}),
        ({"MODEL_API_URL": "not a url", "MODEL_NAME": "m"}, {"model_api_url": "not a url", "model_name": "m"}),
        ({"MODEL_NAME": "llama3"}, {"model_name": "llama3"}),
        ({"LOG_LEVEL": "LOUD"}, {"log_level": "LOUD"}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "a=1,oops"}, {"otel_resource_attributes": "a=1,oops"}),
        ({"DEBUG_MOCK_RESPONSES": "[]"}, {"debug_mock_responses": ()}),
    ],
)
def test_direct_construction_gives_the_same_errors(env: dict[str, str], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as from_env:
        Settings.from_env(_env(**env))
    values: dict[str, Any] = {"agent_name": "agent-1", **kwargs}
    with pytest.raises(ConfigError) as direct:
        Settings(**values)
    assert str(direct.value) == str(from_env.value)


def test_the_readme_table_is_rendered_from_the_declarations() -> None:
    readme = README.read_text()
    found = re.search(r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", readme, re.DOTALL)
    assert found, "README.md lost its settings-table markers"
    assert found.group(1) == Settings.markdown_table(), (
        "README.md's configuration table differs from the declarations in pais_core/_settings.py; regenerate it with "
        "uv run python -c 'from pais_core import Settings; print(Settings.markdown_table(), end=\"\")'"
    )


def test_identity_settings_parse(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    exchange = '{"issuer": "https://idp", "token_endpoint": "https://idp/token", "targets": ["tools", "worker"]}'
    settings = Settings.from_env(
        _env(
            AUTH_JWKS_URL="https://idp/jwks",
            AUTH_ISSUER="https://idp",
            AUTH_AUDIENCE="agent-1",
            AUTH_ALGORITHMS="RS256, ES256",
            AGENT_AUTH_CLIENT_ID="agent-1",
            AGENT_AUTH_CLIENT_SECRET_FILE=str(secret),
            KAOS_TOKEN_EXCHANGE_CONFIG=exchange,
            MCP_SERVERS="tools",
            MCP_SERVER_tools_URL="http://tools:8000",
            MCP_SERVER_TOOLS_AUTH="Forward",
            AGENT_SUB_AGENTS="worker:http://worker:8000",
        )
    )
    assert settings.jwt_algorithms == ["RS256", "ES256"]
    assert settings.read_scope == "principal"
    assert settings.agent_auth_client_secret == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.token_exchange is not None
    assert settings.token_exchange.targets == ("tools", "worker")
    assert settings.mcp_servers[0].auth == "forward"
    assert settings.sub_agents[0].auth is None
    assert Settings.from_env(_env()).read_scope == "agent"
    assert settings.agent_identity == settings.agent_name  # AGENT_AUTH_IDENTITY unset
    pinned = Settings.from_env(_env(AGENT_AUTH_IDENTITY="kaos://agent/pinned-id"))
    assert pinned.agent_identity == "kaos://agent/pinned-id"


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"AUTH_JWKS_URL": "https://idp/jwks", "AUTH_AUDIENCE": "a"}, "AUTH_ISSUER", "required with AUTH_JWKS_URL"),
        ({"AUTH_ISSUER": "https://idp"}, "AUTH_JWKS_URL", "required"),
        ({"AUTH_ALGORITHMS": "HS256"}, "AUTH_ALGORITHMS", "expected comma-separated names"),
        ({"MEMORY_READ_SCOPE": "everyone"}, "MEMORY_READ_SCOPE", "expected one of"),
        ({"KAOS_TOKEN_EXCHANGE_CONFIG": "{"}, "KAOS_TOKEN_EXCHANGE_CONFIG", "expected a JSON object"),
        ({"AGENT_AUTH_CLIENT_ID": "a"}, "AGENT_AUTH_CLIENT_SECRET", "required"),
        ({"AGENT_AUTH_CLIENT_SECRET_FILE": "/nonexistent/secret"}, "AGENT_AUTH_CLIENT_SECRET_FILE", "cannot read"),
        (
            {"AGENT_SUB_AGENTS": "w:http://w", "SUB_AGENT_W_AUTH": "exchange"},
            "KAOS_TOKEN_EXCHANGE_CONFIG",
            "w exchanges tokens",
        ),
        ({"AGENT_SUB_AGENTS": "w:http://w", "SUB_AGENT_W_AUTH": "steal"}, "SUB_AGENT_W_AUTH", "expected one of"),
        ({"AGENT_AUTH_IDENTITY": "api-key"}, "AGENT_AUTH_IDENTITY", "names static-key callers"),
        ({"AGENT_NAME": "api-key"}, "AGENT_AUTH_IDENTITY", "must be set"),
    ],
)
def test_invalid_identity_settings_name_the_variable(env: dict[str, str], variable: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(_env(**env))
    assert caught.value.variable == variable
    assert fragment in caught.value.problem
