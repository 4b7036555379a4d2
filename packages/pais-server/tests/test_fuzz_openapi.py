"""Schemathesis against the OpenAPI schema PAIS serves: every operation, no 5xx, responses as documented.

Two apps run on loopback with scripted model replies (`DEBUG_MOCK_RESPONSES`), so each case is
instant: one open, one behind `AGENT_API_KEY` (fuzzed with the key, and without it, when every
operation outside the probes and the card must be a 401). Their schemas are read once at import
(schemathesis parametrizes at collection time) and checked to be exactly what the servers serve.
Every built-in check runs but `positive_data_acceptance`: PAIS validates more than a JSON schema
can say (the last message must come from the user, cursors are opaque tokens the server issued),
so some schema-valid requests rightly get 400. `negative_data_rejection` holds since the chat
request's types are strict (`"seed": false` is a 400).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from pais_testing.threaded_server import ThreadedServer  # noqa: E402
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance  # noqa: E402

from pais_core import Settings  # noqa: E402
from pais_server import create_app  # noqa: E402
from pais_server.auth._inbound import OPEN_PATHS  # noqa: E402

EXAMPLES_PER_OPERATION = 50
OPERATIONS = {
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model_id}"),
    ("POST", "/v1/responses"),
    ("GET", "/v1/responses/{response_id}"),
    ("GET", "/.well-known/agent-card.json"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/memory/sessions"),
    ("GET", "/memory/events"),
    ("GET", "/approvals"),
    ("POST", "/approvals/{call_id}"),
}


KEY = "fuzz-key"
# a JSON object reply also satisfies `response_format` json_object
REPLIES = ('{"reply": "fuzzed"}',)
APP = create_app(Settings(agent_name="fuzz-agent", debug_mock_responses=REPLIES))
KEYED_APP = create_app(Settings(agent_name="fuzz-agent", debug_mock_responses=REPLIES, agent_api_key=KEY))
_CONFIG = schemathesis.Config.from_dict({"cache": {"enabled": False}})
schema = schemathesis.openapi.from_dict(APP.openapi(), config=_CONFIG)
keyed_schema = schemathesis.openapi.from_dict(KEYED_APP.openapi(), config=_CONFIG)
ALL_HEALTH_CHECKS: list[HealthCheck] = list(HealthCheck)  # pyright: ignore[reportAssignmentType]
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=ALL_HEALTH_CHECKS
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with ThreadedServer(APP) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    with ThreadedServer(KEYED_APP) as server:
        yield server.base_url


def test_the_served_schemas_are_the_fuzzed_ones_and_list_every_operation(base_url: str, keyed_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json").json()
    assert served == APP.openapi()
    operations = {(method.upper(), path) for path, item in served["paths"].items() for method in item}
    assert operations >= OPERATIONS
    keyed = httpx.get(f"{keyed_url}/openapi.json", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert keyed == KEYED_APP.openapi()


def test_invalid_requests_are_documented_as_the_400_they_get(base_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json").json()
    statuses = {
        (path, status) for path, item in served["paths"].items() for op in item.values() for status in op["responses"]
    }
    assert not {status for _, status in statuses} & {"422"}
    assert "HTTPValidationError" not in served["components"]["schemas"]

    [session_id] = [p for p in served["paths"]["/memory/events"]["get"]["parameters"] if p["name"] == "session_id"]
    assert session_id["required"] is True
    assert httpx.get(f"{base_url}/memory/events").status_code == 400

    response = httpx.get(f"{base_url}/memory/sessions", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert ("/memory/sessions", "400") in statuses


@schema.parametrize()
@FUZZ
def test_every_operation_answers_as_documented(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, excluded_checks=[positive_data_acceptance])


@keyed_schema.parametrize()
@FUZZ
def test_with_the_key_every_operation_answers_as_documented(case: Any, keyed_url: str) -> None:
    # Every case carries the key, so a negative case whose mutation is "no Authorization" is served:
    # negative data is checked on the open app, missing keys by the next test.
    case.call_and_validate(
        base_url=keyed_url,
        headers={"Authorization": f"Bearer {KEY}"},
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
    )


@keyed_schema.parametrize()
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=ALL_HEALTH_CHECKS)
def test_without_the_key_only_the_probes_and_the_card_answer(case: Any, keyed_url: str) -> None:
    response = case.call(base_url=keyed_url)
    if case.path in OPEN_PATHS:
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 401, response.text
        assert response.json()["error"]["type"] == "authentication_error"
