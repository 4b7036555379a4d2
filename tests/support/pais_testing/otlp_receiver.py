"""An OTLP/HTTP receiver on loopback that decodes `opentelemetry-proto` requests and keeps what arrived.

Point an exporter at `receiver.endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`, protocol `http/protobuf`)
and read back `spans`, `metric_points` and `logs`, or block on `wait_for_spans(predicate)` and friends.
Set `status` to a non-200 code to play a collector that refuses every export.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .threaded_server import ThreadedServer

__all__ = ["MetricPoint", "OtlpReceiver", "ReceivedLog", "ReceivedSpan"]

T = TypeVar("T")
M = TypeVar("M", bound=Message)
_PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span; ids are lowercase hex, `parent_span_id` is empty for a root span."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    status_code: int
    start_ns: int
    end_ns: int
    events: tuple[tuple[str, dict[str, Any]], ...] = ()
    """The span's events as (name, attributes), in order."""


@dataclass(frozen=True)
class MetricPoint:
    """One data point: `value` for sums and gauges; `count`, `sum` for histograms."""

    name: str
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    value: float | None = None
    count: int | None = None
    sum: float | None = None


@dataclass(frozen=True)
class ReceivedLog:
    """One exported log record; `trace_id`/`span_id` are empty outside a span."""

    body: Any
    severity_text: str
    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str


@dataclass
class _Store:
    spans: list[ReceivedSpan] = field(default_factory=list[ReceivedSpan])
    metric_points: list[MetricPoint] = field(default_factory=list[MetricPoint])
    logs: list[ReceivedLog] = field(default_factory=list[ReceivedLog])
    requests: dict[str, int] = field(default_factory=dict[str, int])


class OtlpReceiver(ThreadedServer):
    """OTLP/HTTP (protobuf) at `/v1/traces`, `/v1/metrics` and `/v1/logs` on a free loopback port."""

    def __init__(self) -> None:
        self._store = _Store()
        self._changed = threading.Condition()
        self.status = 200
        app = Starlette(
            routes=[
                Route("/v1/traces", self._traces, methods=["POST"]),
                Route("/v1/metrics", self._metrics, methods=["POST"]),
                Route("/v1/logs", self._logs, methods=["POST"]),
            ]
        )
        super().__init__(app)
        self.endpoint = self.base_url

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._changed:
            return list(self._store.spans)

    @property
    def metric_points(self) -> list[MetricPoint]:
        with self._changed:
            return list(self._store.metric_points)

    @property
    def logs(self) -> list[ReceivedLog]:
        with self._changed:
            return list(self._store.logs)

    def requests(self, signal: str) -> int:
        """How many export requests arrived for `signal` (`traces`, `metrics`, `logs`), refused ones included."""
        with self._changed:
            return self._store.requests.get(signal, 0)

    def clear(self) -> None:
        with self._changed:
            self._store = _Store()

    def wait_for_spans(
        self, predicate: Callable[[ReceivedSpan], bool] = lambda _: True, *, count: int = 1, timeout: float = 10.0
    ) -> list[ReceivedSpan]:
        """Block until at least `count` received spans match `predicate`; returns the matching ones."""
        return self._wait(lambda store: store.spans, predicate, count, timeout, "spans")

    def wait_for_metric_points(
        self, predicate: Callable[[MetricPoint], bool] = lambda _: True, *, count: int = 1, timeout: float = 10.0
    ) -> list[MetricPoint]:
        """Block until at least `count` received metric points match `predicate`."""
        return self._wait(lambda store: store.metric_points, predicate, count, timeout, "metric points")

    def wait_for_logs(
        self, predicate: Callable[[ReceivedLog], bool] = lambda _: True, *, count: int = 1, timeout: float = 10.0
    ) -> list[ReceivedLog]:
        """Block until at least `count` received log records match `predicate`."""
        return self._wait(lambda store: store.logs, predicate, count, timeout, "log records")

    def _wait(
        self,
        items: Callable[[_Store], Sequence[T]],
        predicate: Callable[[T], bool],
        count: int,
        timeout: float,
        what: str,
    ) -> list[T]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [item for item in items(self._store) if predicate(item)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
            received = len(items(self._store))
        if len(found) < count:
            raise TimeoutError(f"{len(found)} of {count} matching {what} arrived within {timeout}s ({received} in all)")
        return found

    async def _decode(self, request: Request, signal: str, message: M) -> M | Response:
        """The parsed request, or the response to send instead (refusing, or undecodable)."""
        data = await self._body(request, signal)
        if self.status != 200:
            return Response(status_code=self.status)
        try:
            message.ParseFromString(data)
        except DecodeError:
            return Response(f"undecodable {type(message).__name__}", status_code=400)
        return message

    async def _body(self, request: Request, signal: str) -> bytes:
        data = await request.body()
        encoding = request.headers.get("content-encoding", "")
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "deflate":
            data = zlib.decompress(data)
        with self._changed:
            self._store.requests[signal] = self._store.requests.get(signal, 0) + 1
        return data

    def _add(self, add: Callable[[_Store], None]) -> None:
        with self._changed:
            add(self._store)
            self._changed.notify_all()

    async def _traces(self, request: Request) -> Response:
        message = await self._decode(request, "traces", ExportTraceServiceRequest())
        if isinstance(message, Response):
            return message
        spans: list[ReceivedSpan] = []
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            resource=resource,
                            scope=scope_spans.scope.name,
                            status_code=span.status.code,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            events=tuple((event.name, _attributes(event.attributes)) for event in span.events),
                        )
                    )
        self._add(lambda store: store.spans.extend(spans))
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=_PROTOBUF)

    async def _metrics(self, request: Request) -> Response:
        message = await self._decode(request, "metrics", ExportMetricsServiceRequest())
        if isinstance(message, Response):
            return message
        points: list[MetricPoint] = []
        for resource_metrics in message.resource_metrics:
            resource = _attributes(resource_metrics.resource.attributes)
            for scope_metrics in resource_metrics.scope_metrics:
                scope = scope_metrics.scope.name
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    common: dict[str, Any] = {"name": metric.name, "kind": kind, "resource": resource, "scope": scope}
                    if kind in ("sum", "gauge"):
                        for point in getattr(metric, kind).data_points:
                            value = point.as_double if point.HasField("as_double") else point.as_int
                            points.append(MetricPoint(**common, attributes=_attributes(point.attributes), value=value))
                    elif kind in ("histogram", "exponential_histogram"):
                        for point in getattr(metric, kind).data_points:
                            points.append(
                                MetricPoint(
                                    **common, attributes=_attributes(point.attributes), count=point.count, sum=point.sum
                                )
                            )
        self._add(lambda store: store.metric_points.extend(points))
        return Response(ExportMetricsServiceResponse().SerializeToString(), media_type=_PROTOBUF)

    async def _logs(self, request: Request) -> Response:
        message = await self._decode(request, "logs", ExportLogsServiceRequest())
        if isinstance(message, Response):
            return message
        records: list[ReceivedLog] = []
        for resource_logs in message.resource_logs:
            resource = _attributes(resource_logs.resource.attributes)
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    records.append(
                        ReceivedLog(
                            body=_value(record.body),
                            severity_text=record.severity_text,
                            trace_id=record.trace_id.hex(),
                            span_id=record.span_id.hex(),
                            attributes=_attributes(record.attributes),
                            resource=resource,
                            scope=scope_logs.scope.name,
                        )
                    )
        self._add(lambda store: store.logs.extend(records))
        return Response(ExportLogsServiceResponse().SerializeToString(), media_type=_PROTOBUF)


def _attributes(pairs: Sequence[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)
