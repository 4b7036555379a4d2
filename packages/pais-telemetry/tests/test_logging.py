"""configure_logging(): stdout records carry trace and span ids, as text or one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pais_testing.threaded_server import ThreadedServer
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pais_core import Settings
from pais_telemetry import configure_logging


def _logged(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_text_lines_carry_logger_name_and_no_ids_outside_a_span() -> None:
    stream = io.StringIO()
    configure_logging(Settings(agent_name="a"), stream=stream)

    logging.getLogger("pais.chat").info("hello %s", "world")

    [line] = _logged(stream)
    assert line.endswith(" INFO pais.chat hello world")
    assert "trace_id" not in line


def test_text_lines_carry_the_current_span_ids() -> None:
    stream = io.StringIO()
    configure_logging(Settings(agent_name="a"), stream=stream)
    tracer = TracerProvider().get_tracer("test")  # a real SDK span, without installing a global provider

    with tracer.start_as_current_span("chat") as span:
        logging.getLogger("pais.chat").warning("inside")

    context = span.get_span_context()
    [line] = _logged(stream)
    assert f"[trace_id={context.trace_id:032x} span_id={context.span_id:016x}] inside" in line


def test_json_format_is_one_object_per_line() -> None:
    stream = io.StringIO()
    configure_logging(Settings(agent_name="a", log_format="json"), stream=stream)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("chat") as span:
        logging.getLogger("pais.memory").info("saved %d events", 3, extra={"session_id": "s-1"})
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("pais.chat").exception("failed")

    first, second = (json.loads(line) for line in _logged(stream))
    context = span.get_span_context()
    assert first["message"] == "saved 3 events"
    assert first["level"] == "INFO"
    assert first["logger"] == "pais.memory"
    assert (first["trace_id"], first["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert first["session_id"] == "s-1"
    assert first["timestamp"].endswith("+00:00")
    assert second["trace_id"] == "0" * 32
    assert "ValueError: broken" in second["exception"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_credentials_in_urls_are_redacted_from_messages_and_tracebacks(log_format: str) -> None:
    stream = io.StringIO()
    configure_logging(Settings(agent_name="a", log_format=log_format), stream=stream)  # pyright: ignore[reportArgumentType]
    log = logging.getLogger("pais.secrets")

    log.warning("model API at %s failed", "http://admin:hunter2@model:8080/v1?api_key=sk-123&x=1")
    try:
        raise ConnectionError("cannot reach redis://:s3cret@redis:6379/0")
    except ConnectionError:
        log.exception("memory down")

    written = stream.getvalue()
    assert "http://admin:***@model:8080/v1?api_key=***&x=1" in written
    assert "redis://:***@redis:6379/0" in written
    for secret in ("hunter2", "sk-123", "s3cret"):
        assert secret not in written


def test_log_level_is_honoured() -> None:
    stream = io.StringIO()
    configure_logging(Settings(agent_name="a", log_level="WARNING"), stream=stream)

    logging.getLogger("pais.chat").info("dropped")
    logging.getLogger("pais.chat").warning("kept")

    assert [line.rsplit(" ", 1)[1] for line in _logged(stream)] == ["kept"]


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("ok"))])
    with ThreadedServer(app) as server:
        yield server.base_url


@pytest.mark.parametrize(("level", "heard"), [("INFO", False), ("DEBUG", True)])
def test_http_clients_log_each_request_only_at_debug(http_server: str, level: str, heard: bool) -> None:
    stream = io.StringIO()
    configure_logging(Settings.from_env({"AGENT_NAME": "a", "LOG_LEVEL": level}), stream=stream)

    assert httpx.get(http_server).text == "ok"  # delegations and MCP
    assert httpx2.get(http_server).text == "ok"  # the OpenAI client: every model call

    request_lines = [line for line in _logged(stream) if f"HTTP Request: GET {http_server}" in line]
    assert len(request_lines) == (2 if heard else 0)


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(Settings(agent_name="a"), stream=first)
    configure_logging(Settings(agent_name="a", log_format="json"), stream=second)

    logging.getLogger("pais.chat").warning("once")

    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "once"


def test_no_global_provider_needed() -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    stream = io.StringIO()
    configure_logging(Settings(agent_name="a"), stream=stream)
    with trace.get_tracer("test").start_as_current_span("noop"):  # a non-recording span: no ids to show
        logging.getLogger("pais").warning("still logged")
    assert stream.getvalue().rstrip("\n").endswith(" WARNING pais still logged")
