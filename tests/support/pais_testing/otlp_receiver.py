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
from collections.abc import Awaitable, Callable, Sequence
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
    """OTLP/HTTP (protobuf) at `/v1/traces`, `/v1/metrics` and `/v1/logs` on a free loopback port.

    With `decode_later`, exports are answered at once and decoded when something is read (a benchmark's
    collector that should not compete for CPU with the server it measures).
    """

    def __init__(self, *, decode_later: bool = False) -> None:
        self._store = _Store()
        self._changed = threading.Condition()
        self._decode_later = decode_later
        self._pending: list[tuple[str, bytes]] = []
        self.status = 200
        app = Starlette(routes=[Route(f"/v1/{signal}", self._handler(signal), methods=["POST"]) for signal in _SIGNALS])
        super().__init__(app)
        self.endpoint = self.base_url

    @property
    def spans(self) -> list[ReceivedSpan]:
        self._decode_pending()
        with self._changed:
            return list(self._store.spans)

    @property
    def metric_points(self) -> list[MetricPoint]:
        self._decode_pending()
        with self._changed:
            return list(self._store.metric_points)

    @property
    def logs(self) -> list[ReceivedLog]:
        self._decode_pending()
        with self._changed:
            return list(self._store.logs)

    def requests(self, signal: str) -> int:
        """How many export requests arrived for `signal` (`traces`, `metrics`, `logs`), refused ones included."""
        with self._changed:
            return self._store.requests.get(signal, 0)

    def clear(self) -> None:
        with self._changed:
            self._store = _Store()
            self._pending.clear()

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
        while True:
            self._decode_pending()
            with self._changed:
                found = [item for item in items(self._store) if predicate(item)]
                received = len(items(self._store))
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(found) < count:
            raise TimeoutError(f"{len(found)} of {count} matching {what} arrived within {timeout}s ({received} in all)")
        return found

    def _handler(self, signal: str) -> Callable[[Request], Awaitable[Response]]:
        request_type, answer = _SIGNALS[signal]

        async def handle(request: Request) -> Response:
            data = await self._body(request, signal)
            if self.status != 200:
                return Response(status_code=self.status)
            if self._decode_later:
                with self._changed:
                    self._pending.append((signal, data))
                    self._changed.notify_all()
            else:
                try:
                    self._ingest(signal, data)
                except DecodeError:
                    return Response(f"undecodable {request_type.__name__}", status_code=400)
            return Response(answer, media_type=_PROTOBUF)

        return handle

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

    def _decode_pending(self) -> None:
        with self._changed:
            pending, self._pending = self._pending, []
        for signal, data in pending:
            self._ingest(signal, data)

    def _ingest(self, signal: str, data: bytes) -> None:
        request_type, _ = _SIGNALS[signal]
        message = request_type()
        message.ParseFromString(data)
        with self._changed:
            if isinstance(message, ExportTraceServiceRequest):
                self._store.spans.extend(_spans(message))
            elif isinstance(message, ExportMetricsServiceRequest):
                self._store.metric_points.extend(_metric_points(message))
            elif isinstance(message, ExportLogsServiceRequest):
                self._store.logs.extend(_log_records(message))
            self._changed.notify_all()


_SIGNALS: dict[str, tuple[type[Message], bytes]] = {
    "traces": (ExportTraceServiceRequest, ExportTraceServiceResponse().SerializeToString()),
    "metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse().SerializeToString()),
    "logs": (ExportLogsServiceRequest, ExportLogsServiceResponse().SerializeToString()),
}


def _spans(message: ExportTraceServiceRequest) -> list[ReceivedSpan]:
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
    return spans


def _metric_points(message: ExportMetricsServiceRequest) -> list[MetricPoint]:
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
    return points


def _log_records(message: ExportLogsServiceRequest) -> list[ReceivedLog]:
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
    return records


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
