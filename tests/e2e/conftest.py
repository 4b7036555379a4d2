"""The e2e suite's targets: "local" (processes on loopback) and "kind" (a cluster behind port-forwards).

`PAIS_E2E_TARGETS` (comma-separated, default `local,kind`) picks which run; `make e2e-local` and
`make e2e-kind` set it. The kind target skips unless scripts/kind-e2e.sh exported its URLs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from pais_testing.e2e_client import E2EClient, E2EReport
from pais_testing.e2e_stack import KIND_ENV, E2ETarget, LocalStack, kind_target

_REPORT = pytest.StashKey[E2EReport]()
_RECEIVER_MODULE = "pais_testing.otlp_receiver"


def _selected() -> set[str]:
    return {t.strip() for t in os.environ.get("PAIS_E2E_TARGETS", "local,kind").split(",") if t.strip()}


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REPORT] = E2EReport()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is None or not report.agents:
        return
    terminalreporter.section("PAIS e2e summary")
    for line in report.lines():
        terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed e2e test, attach the tail of each local agent's log to the report."""
    report = yield
    target = getattr(item, "funcargs", {}).get("target")
    if report.failed and isinstance(target, E2ETarget):
        for instance, path in target.logs.items():
            tail = Path(path).read_text(errors="replace")[-3000:]
            report.sections.append((f"{instance} log (tail)", tail))
    return report


@pytest.fixture(scope="session")
def e2e_report(pytestconfig: pytest.Config) -> E2EReport:
    return pytestconfig.stash[_REPORT]


@pytest.fixture(scope="session")
def client(e2e_report: E2EReport) -> Iterator[E2EClient]:
    e2e_client = E2EClient(e2e_report)
    yield e2e_client
    e2e_client.close()


def _start_receiver(stack: ExitStack) -> Any | None:
    """The telemetry helper's OTLP receiver, started; None until `pais_testing.otlp_receiver` exists."""
    if importlib.util.find_spec(_RECEIVER_MODULE) is None:
        return None
    module = importlib.import_module(_RECEIVER_MODULE)
    receiver = module.OtlpReceiver()
    stack.callback(receiver.stop)
    receiver.start()
    return receiver


@pytest.fixture(scope="session")
def local_stack() -> Iterator[tuple[E2ETarget, Any | None]]:
    """The local target, started once for the session and stopped at its end."""
    with ExitStack() as stack:
        receiver = _start_receiver(stack)
        local = LocalStack(trace_endpoint=receiver.endpoint if receiver else None)
        stack.callback(local.stop)
        yield local.start(), receiver


@pytest.fixture(scope="session", params=["local", "kind"])
def target(request: pytest.FixtureRequest, e2e_report: E2EReport) -> E2ETarget:
    name: str = request.param
    if name not in _selected():
        pytest.skip(f"skipped: target {name} not in PAIS_E2E_TARGETS={os.environ.get('PAIS_E2E_TARGETS')}")
    if name == "local":
        selected, _ = request.getfixturevalue("local_stack")
    else:
        found = kind_target()
        if found is None:
            pytest.skip(
                f"skipped: kind target not configured ({', '.join(KIND_ENV.values())} unset; run make e2e-kind)"
            )
        selected = found
    e2e_report.agents[selected.name] = selected.agents
    return selected


@pytest.fixture
def trace_receiver(target: E2ETarget, request: pytest.FixtureRequest) -> Any:
    """The OTLP receiver the target's agents export to (only the local target has one so far)."""
    if target.name != "local":
        pytest.skip("skipped: the kind target has no readable trace store yet (otel-collector only logs)")
    _, receiver = request.getfixturevalue("local_stack")
    if receiver is None:
        pytest.xfail(f"{_RECEIVER_MODULE} does not exist yet (telemetry issue)")
    return receiver
