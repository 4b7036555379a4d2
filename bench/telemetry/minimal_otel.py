"""The floor under PAIS's telemetry cost: a hand-written FastAPI + Pydantic AI chat endpoint exporting the same signals.

No PAIS code: the OpenTelemetry SDK is set up by hand (OTLP/HTTP traces, metrics and logs, root
logger records exported), FastAPI's native telemetry traces each request, and Pydantic AI
instruments the agent (its `Instrumentation` capability, without message content, as PAIS
configures it). Without
`--otlp` the same endpoint runs with telemetry off. `bench_telemetry.py` starts both and compares
them the way it compares PAIS with telemetry on and off: whatever this endpoint loses is what the
libraries cost, whichever server is built on them.

    python bench/telemetry/minimal_otel.py --port 8000 --model-url http://127.0.0.1:9000/v1 [--otlp URL]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic_ai import Agent
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from apps import ChatRequest, completion  # the request and answer of bench_chat's minimal endpoint


def _install_telemetry(endpoint: str) -> Instrumentation:
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "minimal"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"))
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs")))
    _logs.set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    return Instrumentation(
        settings=InstrumentationSettings(include_content=False, include_model_request_parameters=False)
    )


def build_app(model_url: str, otlp_endpoint: str | None) -> FastAPI:
    capabilities = [_install_telemetry(otlp_endpoint)] if otlp_endpoint else []
    model = OpenAIChatModel("scripted", provider=OpenAIProvider(base_url=model_url, api_key="unused"))
    agent = Agent(model, instructions="You are a helpful assistant.", capabilities=capabilities)
    app = FastAPI()  # its native telemetry traces requests whenever a provider is installed

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest) -> dict[str, Any]:
        result = await agent.run(request.messages[-1].content)
        return completion(result.output, result.usage.input_tokens, result.usage.output_tokens)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--otlp", help="OTLP/HTTP endpoint; telemetry off without it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)  # access log lines, like PAIS at LOG_LEVEL=INFO
    for chatty in ("httpx", "httpx2"):  # as PAIS: the HTTP clients' line per request only at DEBUG
        logging.getLogger(chatty).setLevel(logging.WARNING)
    app = build_app(args.model_url, args.otlp)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, log_level="info")


if __name__ == "__main__":
    main()
