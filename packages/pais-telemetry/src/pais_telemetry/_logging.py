"""Log correlation: trace ids on every stdout record, an optional JSON format, OTLP export of records."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import Logger, LoggerProvider, SeverityNumber

from pais_core import Settings, redact_urls

__all__ = [
    "TEXT_LOG_FORMAT",
    "JsonLogFormatter",
    "TraceContextFilter",
    "configure_logging",
    "install_otlp_log_handler",
    "remove_otlp_log_handler",
]

TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s%(trace_context)s %(message)s"
"""The `LOG_FORMAT=text` line layout; `trace_context` is ` [trace_id=... span_id=...]` inside a span, else empty."""

_CHATTY_LOGGERS = ("httpx", "httpx2")
"""HTTP clients that log every request at INFO (each model call): heard only at `LOG_LEVEL=DEBUG`."""
_NO_TRACE_ID = "0" * 32
_NO_SPAN_ID = "0" * 16
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "trace_id",
    "span_id",
    "trace_context",
}
_SEVERITIES = (
    (logging.CRITICAL, SeverityNumber.FATAL),
    (logging.ERROR, SeverityNumber.ERROR),
    (logging.WARNING, SeverityNumber.WARN),
    (logging.INFO, SeverityNumber.INFO),
    (logging.DEBUG, SeverityNumber.DEBUG),
)


class TraceContextFilter(logging.Filter):
    """Sets `trace_id` and `span_id` (hex; all zeros outside a span) on every record it sees, and
    `trace_context`, the text layout's ` [trace_id=... span_id=...]` (empty outside a span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            trace_id, span_id = format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
            record.trace_id, record.span_id = trace_id, span_id
            record.trace_context = f" [trace_id={trace_id} span_id={span_id}]"
        else:
            record.trace_id = _NO_TRACE_ID
            record.span_id = _NO_SPAN_ID
            record.trace_context = ""
        return True


class _RedactUrls(logging.Filter):
    """Hides the credentials of any URL in a record's message and traceback (`redact_urls`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:  # formatted once per record, then reused by every formatter
            record.exc_text = redact_urls(record.exc_text or logging.Formatter().formatException(record.exc_info))
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message, trace_id, span_id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", _NO_TRACE_ID),
            "span_id": getattr(record, "span_id", _NO_SPAN_ID),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry.setdefault(key, value)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler[IO[str]]):
    """The stdout handler `configure_logging` owns (found again by type to replace it)."""


class _OtlpLogHandler(logging.Handler):
    """Forwards `logging` records to an OpenTelemetry logger provider, with the current trace context."""

    def __init__(self, provider: LoggerProvider) -> None:
        super().__init__()
        self.addFilter(_RedactUrls())
        self._provider = provider
        self._loggers: dict[str, Logger] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # The exporters report their own failures through `opentelemetry.*` loggers; exporting those
        # records would feed a failing exporter with more work about its failure.
        if record.name.startswith("opentelemetry"):
            return
        try:
            logger = self._loggers.get(record.name)
            if logger is None:
                logger = self._loggers.setdefault(record.name, self._provider.get_logger(record.name))
            exception = record.exc_info[1] if record.exc_info else None
            logger.emit(
                timestamp=int(record.created * 1e9),
                observed_timestamp=time.time_ns(),
                context=otel_context.get_current(),
                severity_number=_severity(record.levelno),
                severity_text=record.levelname,
                body=record.getMessage(),
                attributes={
                    "logger.name": record.name,
                    "code.file.path": record.pathname,
                    "code.function.name": record.funcName,
                    "code.line.number": record.lineno,
                },
                exception=exception,
            )
        except Exception:
            self.handleError(record)


def configure_logging(settings: Settings, *, stream: IO[str] | None = None) -> None:
    """Log to stdout at `LOG_LEVEL`, in `LOG_FORMAT` (text or json), with the trace and span ids.

    Replaces the handler an earlier call installed and leaves other handlers alone. Text lines show
    the ids only inside a span; JSON records always have both fields (all zeros outside a span).
    Credentials in URLs are redacted. The HTTP clients' one line per request (every model call) is
    kept for `DEBUG`; above it they log warnings only.

    Args:
        settings: reads `log_level` and `log_format`.
        stream: where to write instead of `sys.stdout`.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StdoutHandler):
            root.removeHandler(handler)
    handler = _StdoutHandler(stream or sys.stdout)
    handler.addFilter(TraceContextFilter())
    handler.addFilter(_RedactUrls())
    handler.setFormatter(JsonLogFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if settings.log_level == "DEBUG" else logging.WARNING)


def install_otlp_log_handler(provider: LoggerProvider) -> None:
    """Export root-logger records through `provider` (replacing an earlier OTLP handler)."""
    remove_otlp_log_handler()
    logging.getLogger().addHandler(_OtlpLogHandler(provider))


def remove_otlp_log_handler() -> None:
    """Stop exporting log records over OTLP."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _OtlpLogHandler):
            root.removeHandler(handler)


def _severity(levelno: int) -> SeverityNumber:
    for threshold, severity in _SEVERITIES:
        if levelno >= threshold:
            return severity
    return SeverityNumber.TRACE
