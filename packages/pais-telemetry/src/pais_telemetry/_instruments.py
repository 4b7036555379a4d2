"""PAIS's own tracer and instruments, taken from the global providers (whichever are installed)."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager
from functools import lru_cache

from opentelemetry import metrics, trace
from opentelemetry.metrics import Histogram, MeterProvider
from opentelemetry.trace import Tracer, TracerProvider

from pais_core import __version__

from ._names import (
    ERROR_TYPE,
    INSTRUMENTATION_SCOPE,
    KAOS_MEMORY_DURATION,
    MEMORY_BACKEND,
    MEMORY_DURATION_MS,
    MEMORY_OPERATION,
)
from ._providers import metrics_installed, tracing_installed

__all__ = ["memory_operation", "pais_tracer"]

MEMORY_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def pais_tracer() -> Tracer:
    """The `pais` tracer of the current global tracer provider."""
    return _tracer(trace.get_tracer_provider())


@lru_cache(maxsize=2)
def _tracer(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(INSTRUMENTATION_SCOPE, __version__)


def pais_histogram(name: str, *, unit: str, description: str, buckets: tuple[float, ...]) -> Histogram:
    """A histogram of the `pais` meter on the current global meter provider, created once per provider."""
    return _histogram(metrics.get_meter_provider(), name, unit, description, buckets)


@lru_cache(maxsize=8)
def _histogram(
    provider: MeterProvider, name: str, unit: str, description: str, buckets: tuple[float, ...]
) -> Histogram:
    return provider.get_meter(INSTRUMENTATION_SCOPE, __version__).create_histogram(
        name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
    )


@contextmanager
def memory_operation(operation: str, *, backend: str) -> Generator[None]:
    """Record one memory backend call as a `memory.<operation>` event on the current span and in `kaos.memory.duration`.

    An event, not a span of its own: two memory calls per chat turn would otherwise add two spans to
    every trace, and a span costs several times what an event does to build and export.

    Usage: `with memory_operation("append", backend="redis"): await memory.append(...)`.

    Args:
        operation: what the call does (`append`, `load_history`, `list_sessions`, ...).
        backend: `local`, `redis` or `null`.
    """
    tracing, measuring = tracing_installed(), metrics_installed()
    if not tracing and not measuring:
        yield  # nothing listens: no clock, no attributes
        return
    attributes: dict[str, str] = {MEMORY_OPERATION: operation, MEMORY_BACKEND: backend}
    started_ns = time.time_ns()
    start = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        attributes[ERROR_TYPE] = type(exc).__qualname__
        raise
    finally:
        seconds = time.perf_counter() - start
        if measuring:
            pais_histogram(
                KAOS_MEMORY_DURATION,
                unit="s",
                description="Duration of session memory backend operations",
                buckets=MEMORY_DURATION_BUCKETS,
            ).record(seconds, attributes)
        if tracing:
            span = trace.get_current_span()
            if span.is_recording():
                event = {**attributes, MEMORY_DURATION_MS: round(seconds * 1000, 3)}
                span.add_event(f"memory.{operation}", event, timestamp=started_ns)
