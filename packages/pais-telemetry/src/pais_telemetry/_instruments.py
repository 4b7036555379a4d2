"""PAIS's own tracer and instruments, taken from the global providers (whichever are installed)."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager
from functools import lru_cache

from opentelemetry import metrics, trace
from opentelemetry.metrics import Histogram, MeterProvider
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Tracer, TracerProvider

from pais_core import __version__

from ._names import INSTRUMENTATION_SCOPE, KAOS_MEMORY_DURATION, MEMORY_BACKEND, MEMORY_OPERATION
from ._providers import metrics_installed, tracing_installed

__all__ = ["memory_operation", "pais_tracer"]

MEMORY_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def pais_tracer() -> Tracer:
    """The `pais` tracer of the current global tracer provider."""
    return _tracer(trace.get_tracer_provider())


@lru_cache(maxsize=2)
def _tracer(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(INSTRUMENTATION_SCOPE, __version__)


@lru_cache(maxsize=2)
def _memory_duration(provider: MeterProvider) -> Histogram:
    return provider.get_meter(INSTRUMENTATION_SCOPE, __version__).create_histogram(
        KAOS_MEMORY_DURATION,
        unit="s",
        description="Duration of session memory backend operations",
        explicit_bucket_boundaries_advisory=MEMORY_DURATION_BUCKETS,
    )


@contextmanager
def memory_operation(operation: str, *, backend: str) -> Generator[Span]:
    """Trace one memory backend call as a `memory.<operation>` span and record `kaos.memory.duration`.

    Usage: `with memory_operation("append", backend="redis"): await memory.append(...)`.

    Args:
        operation: what the call does (`append`, `history`, `list_sessions`, ...).
        backend: `local`, `redis` or `null`.
    """
    if not tracing_installed() and not metrics_installed():
        yield INVALID_SPAN  # nothing listens: no span, no clock, no attributes
        return
    attributes: dict[str, str] = {MEMORY_OPERATION: operation, MEMORY_BACKEND: backend}
    start = time.perf_counter()
    try:
        with pais_tracer().start_as_current_span(
            f"memory.{operation}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            yield span
    except BaseException as exc:
        attributes["error.type"] = type(exc).__qualname__
        raise
    finally:
        _memory_duration(metrics.get_meter_provider()).record(time.perf_counter() - start, attributes)
