"""Schemathesis against the OpenAPI schema PAIS serves: every operation, no 5xx, responses as documented.

The app runs on loopback with scripted model replies (`DEBUG_MOCK_RESPONSES`), so each case is
instant; its schema is read once at import (schemathesis parametrizes at collection time) and
checked to be exactly what the running server serves. Every built-in check runs but two:
- `positive_data_acceptance`: PAIS validates more than a JSON schema can say (the last message
  must come from the user, cursors are opaque tokens the server issued), so some schema-valid
  requests rightly get 400;
- `negative_data_rejection`: request bodies are parsed leniently, as Pydantic does by default
  (`"seed": false` is read as 0), so some schema-violating requests are served. They must still
  never cause a 5xx, which `not_a_server_error` checks for every negative case.
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
}


# a JSON object reply also satisfies `response_format` json_object
APP = create_app(Settings(agent_name="fuzz-agent", debug_mock_responses=('{"reply": "fuzzed"}',)))
schema = schemathesis.openapi.from_dict(
    APP.openapi(), config=schemathesis.Config.from_dict({"cache": {"enabled": False}})
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with ThreadedServer(APP) as server:
        yield server.base_url


def test_the_served_schema_is_the_fuzzed_one_and_lists_every_operation(base_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json").json()
    assert served == APP.openapi()
    operations = {(method.upper(), path) for path, item in served["paths"].items() for method in item}
    assert operations >= OPERATIONS


def test_invalid_requests_are_documented_as_the_400_they_get(base_url: str) -> None:
    served = httpx.get(f"{base_url}/openapi.json").json()
    statuses = {
        (path, status) for path, item in served["paths"].items() for op in item.values() for status in op["responses"]
    }
    assert not {status for _, status in statuses} & {"422"}
    assert "HTTPValidationError" not in served["components"]["schemas"]

    response = httpx.get(f"{base_url}/memory/sessions", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert ("/memory/sessions", "400") in statuses


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck))  # pyright: ignore[reportArgumentType]
def test_every_operation_answers_as_documented(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, excluded_checks=[positive_data_acceptance, negative_data_rejection])
