"""Spans and metrics of delegations, from the global OpenTelemetry providers unless given others."""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from pais_core import __version__ as VERSION

__all__ = ["DelegationTelemetry"]

_SCOPE = "pais_delegation"
logger = logging.getLogger(_SCOPE)


class DelegationTelemetry:
    """The `delegate.<name>` span and the `kaos.delegations` / `kaos.delegation.duration` metrics."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(_SCOPE, VERSION)
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE, VERSION)
        self._count = meter.create_counter(
            "kaos.delegations", unit="{delegation}", description="Delegations to sub-agents"
        )
        self._duration = meter.create_histogram(
            "kaos.delegation.duration", unit="s", description="Duration of delegations to sub-agents"
        )

    @contextmanager
    def span(self, target: str, *, url: str, depth: int) -> Generator[Span]:
        """A client span around one delegation; the caller sets transport and outcome."""
        attributes = {"pais.delegation.target": target, "pais.delegation.url": url, "pais.delegation.depth": depth}
        with self._tracer.start_as_current_span(
            f"delegate.{target}", kind=SpanKind.CLIENT, attributes=attributes, record_exception=False
        ) as span:
            yield span

    def record(self, span: Span, target: str, *, outcome: str, seconds: float) -> None:
        """Record a finished delegation: span outcome and status, counter, duration and a log line."""
        success = outcome == "success"
        logger.log(
            logging.INFO if success else logging.WARNING,
            "delegation to %s: %s in %.1f ms",
            target,
            outcome,
            seconds * 1000,
        )
        span.set_attribute("pais.delegation.outcome", outcome)
        if not success:
            span.set_status(Status(StatusCode.ERROR, outcome))
        attributes = {"target": target, "success": success}
        self._count.add(1, attributes)
        self._duration.record(seconds, attributes)
