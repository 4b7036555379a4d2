"""PAIS telemetry configured with in-memory exporters, and readers for what they collected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pais_core import Settings
from pais_telemetry import Telemetry, configure

__all__ = ["InMemory", "configure_in_memory"]


@dataclass
class InMemory:
    """Telemetry configured with in-memory exporters, and readers for what they collected."""

    telemetry: Telemetry
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def spans_by_name(self) -> dict[str, list[ReadableSpan]]:
        self.telemetry.force_flush()
        found: dict[str, list[ReadableSpan]] = {}
        for span in self.spans.get_finished_spans():
            found.setdefault(span.name, []).append(span)
        return found

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every point of metric `name`."""
        data = self.reader.get_metrics_data()
        return [
            (dict(point.attributes or {}), point)
            for resource_metrics in (data.resource_metrics if data else ())
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


def configure_in_memory(settings: Settings) -> InMemory:
    """`pais_telemetry.configure(settings)` exporting every signal in memory (stdout logging untouched)."""
    spans, reader, logs = InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogRecordExporter()
    telemetry = configure(settings, setup_logging=False, span_exporter=spans, metric_reader=reader, log_exporter=logs)
    return InMemory(telemetry, spans, reader, logs)
