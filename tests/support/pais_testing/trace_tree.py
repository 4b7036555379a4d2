"""One trace as the OTLP receiver decoded it, spread over services: find spans, walk parent links, find orphans."""

from __future__ import annotations

from collections.abc import Iterable

from .otlp_receiver import OtlpReceiver, ReceivedSpan

__all__ = ["TraceTree", "wait_for_trace"]


class TraceTree:
    """The received spans of one trace id, indexed by span id."""

    def __init__(self, trace_id: str, spans: Iterable[ReceivedSpan]) -> None:
        self.trace_id = trace_id
        self.spans = [span for span in spans if span.trace_id == trace_id]
        self.by_id = {span.span_id: span for span in self.spans}

    def one(self, service: str, name: str) -> ReceivedSpan:
        """The single span `name` of `service` (AssertionError when there are none or several)."""
        found = [s for s in self.spans if (s.resource.get("service.name"), s.name) == (service, name)]
        assert len(found) == 1, f"{len(found)} spans {name!r} of {service!r} in trace {self.trace_id}: {self}"
        return found[0]

    def parent(self, span: ReceivedSpan) -> ReceivedSpan | None:
        """The span's parent when it is in this trace."""
        return self.by_id.get(span.parent_span_id)

    def ancestry(self, span: ReceivedSpan) -> list[tuple[str, str]]:
        """`(service, name)` of `span` and each ancestor up to the first one whose parent is not in the trace."""
        chain: list[tuple[str, str]] = []
        current: ReceivedSpan | None = span
        while current is not None and len(chain) <= len(self.spans):
            chain.append((current.resource.get("service.name", ""), current.name))
            current = self.parent(current)
        return chain

    def orphans(self) -> list[ReceivedSpan]:
        """Spans whose parent id is set but names no span of this trace."""
        return [s for s in self.spans if s.parent_span_id and s.parent_span_id not in self.by_id]

    def roots(self) -> list[ReceivedSpan]:
        """Spans without a parent."""
        return [s for s in self.spans if not s.parent_span_id]

    def __str__(self) -> str:
        return "; ".join(f"{s.resource.get('service.name')}:{s.name}" for s in self.spans)


def wait_for_trace(
    receiver: OtlpReceiver, trace_id: str, expected: Iterable[tuple[str, str]], *, timeout: float = 15.0
) -> TraceTree:
    """Block until each `(service, span name)` of `expected` arrived in trace `trace_id`; the trace as received."""
    for service, name in expected:
        receiver.wait_for_spans(
            lambda s, service=service, name=name: (
                (s.trace_id, s.resource.get("service.name"), s.name) == (trace_id, service, name)
            ),
            timeout=timeout,
        )
    return TraceTree(trace_id, receiver.spans)
