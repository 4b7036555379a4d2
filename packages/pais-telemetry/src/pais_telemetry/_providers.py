"""Whether anything listens: the API's placeholder providers mean spans and metrics go nowhere."""

from __future__ import annotations

from opentelemetry import metrics, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

__all__ = ["metrics_installed", "tracing_installed"]


def tracing_installed() -> bool:
    """A real tracer provider is installed (the API's proxy or a NoOp provider records nothing)."""
    return not isinstance(trace.get_tracer_provider(), (ProxyTracerProvider, NoOpTracerProvider))


def metrics_installed() -> bool:
    """A real meter provider is installed."""
    provider = metrics.get_meter_provider()
    return not isinstance(provider, NoOpMeterProvider) and type(provider).__name__ != "_ProxyMeterProvider"
