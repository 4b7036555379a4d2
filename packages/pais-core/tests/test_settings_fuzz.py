"""Fuzz of the environment parser: any environment gives `Settings` or a `ConfigError` naming a variable."""

from __future__ import annotations

import json
import re

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pais_core import ConfigError, Settings  # noqa: E402

# Every fixed variable name the parser reads, taken from the declarations so new variables are fuzzed too.
FIXED_NAMES = sorted(name for var, _ in Settings.variables() for name in (var.env or "").split(",") if "<" not in name)
# Names that appear inside templated variables (sub-agents, peers, MCP servers).
ITEM_NAMES = ["a", "b2", "python-runner", "x.y", "-", "1", "Ä"]
TEMPLATED = re.compile(r"^(SUB_AGENT_.+_API_KEY|PEER_AGENT_.+_CARD_URL|MCP_SERVER_.+_(URL|HEADERS))$")

junk = st.text(max_size=40)
numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e309", "nan", "inf", "-inf", "1_000", " 7 ", "0x10", "\uff11\uff12"]),
)
booleans = st.sampled_from(["true", "FALSE", "yes", "no", "on", "off", "1", "0", "maybe", ""])
urls = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1:8000",
            "https://llm.example/v1/",
            "redis://127.0.0.1:6379/0",
            "rediss://cache:6380",
            "unix:///tmp/redis.sock",
            "http://[::1",
            "http://host:99999",
            "http://host:port",
            "ftp://x",
            "http://",
            "//host",
            "http://a/.well-known/agent-card.json",
        ]
    ),
    st.builds("http://{}:{}".format, st.text(max_size=10), st.integers(-5, 70000)),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
).map(json.dumps)
mock_replies = st.lists(
    st.one_of(
        st.text(max_size=10),
        st.fixed_dictionaries(
            {"tool_calls": st.lists(st.fixed_dictionaries({"name": st.text(max_size=8)}), max_size=3)}
        ),
    ),
    max_size=3,
).map(json.dumps)
name_lists = st.lists(st.sampled_from(ITEM_NAMES) | st.text(max_size=6), max_size=4).map(",".join)
sub_agent_lists = st.lists(
    st.builds("{}:{}".format, st.sampled_from(ITEM_NAMES) | st.text(max_size=5), urls), max_size=3
).map(",".join)
values = st.one_of(junk, numbers, booleans, urls, json_values, mock_replies, name_lists, sub_agent_lists)

valid_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", fullmatch=True)
# mostly valid, so that parsing gets past AGENT_NAME to the other variables
agent_names = st.one_of(
    valid_names, valid_names, valid_names, st.sampled_from([None, "x" * 64, "bad name", "-x", ""]), junk
)
templated_names = st.builds(
    "{}{}{}".format,
    st.sampled_from(["SUB_AGENT_", "PEER_AGENT_", "MCP_SERVER_"]),
    st.sampled_from(ITEM_NAMES + [n.upper().replace("-", "_") for n in ITEM_NAMES]),
    st.sampled_from(["_API_KEY", "_CARD_URL", "_URL", "_HEADERS"]),
)
environments = st.builds(
    lambda name, rest: {"AGENT_NAME": name, **rest} if name is not None else rest,
    agent_names,
    st.dictionaries(
        st.sampled_from([n for n in FIXED_NAMES if n != "AGENT_NAME"]) | templated_names, values, max_size=8
    ),
)


def test_the_fuzzed_names_cover_the_contract() -> None:
    for variable in ("AGENT_NAME", "MEMORY_REDIS_URL", "DEBUG_MOCK_RESPONSES", "MAX_REQUEST_BYTES", "LOG_FORMAT"):
        assert variable in FIXED_NAMES


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments)
def test_any_environment_parses_or_names_the_bad_variable(env: dict[str, str]) -> None:
    try:
        parsed = Settings.from_env(env)
    except ConfigError as error:
        _assert_names_a_variable(error, env)
        return
    event("Settings")
    assert parsed.agent_name == env["AGENT_NAME"].strip()
    if parsed.memory_type == "redis":
        assert parsed.memory_redis_url is not None
    if parsed.model_api_url is not None:
        assert parsed.model_name is not None


def _assert_names_a_variable(error: ConfigError, env: dict[str, str]) -> None:
    event(f"ConfigError {error.variable}")
    assert error.variable in FIXED_NAMES or error.variable in env or TEMPLATED.match(error.variable)
    assert str(error).startswith(f"invalid configuration: {error.variable}: ")
    assert error.problem
