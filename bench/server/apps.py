"""The servers the chat benchmark compares, all answering with the same instant in-process model.

- `pais_app`: PAIS with local memory (what users deploy).
- `pais_redis_app`: PAIS with memory in Redis at `$BENCH_REDIS_URL` (what a replicated deployment runs).
- `pais_null_app`: PAIS without memory (`bench_instructions.py`: what memory costs per request).
- `minimal_app`: a hand-written FastAPI endpoint that calls `agent.run` and returns the completion:
  the floor of what anyone could write.
- `fixed_app`: a bare FastAPI endpoint returning a fixed completion body: the HTTP limit.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

ANSWER = "The answer is 42."


async def _instant(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(ANSWER)])


async def _instant_stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    for word in ANSWER.split(" "):
        yield f"{word} "


def _agent() -> Agent[None, str]:
    model = FunctionModel(_instant, stream_function=_instant_stream)
    return Agent(model, instructions="You are a helpful assistant.")


def _pais(**settings: Any) -> Any:
    # imported here, so that the baselines' processes never load PAIS (their start-up time is compared)
    from pais_core import Settings
    from pais_server import create_app

    return create_app(Settings(agent_name="bench", **settings), _agent())


def pais_app() -> Any:
    return _pais(memory_type="local")


def pais_redis_app() -> Any:
    return _pais(memory_type="redis", memory_redis_url=os.environ["BENCH_REDIS_URL"])


def pais_null_app() -> Any:
    return _pais(memory_type="null")


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessage]


def completion(content: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def minimal_app() -> Any:
    agent = _agent()
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest) -> dict[str, Any]:
        result = await agent.run(request.messages[-1].content)
        usage = result.usage
        return completion(result.output, usage.input_tokens, usage.output_tokens)

    return app


def fixed_app() -> Any:
    app = FastAPI()
    body = completion(ANSWER, 10, 5)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest) -> dict[str, Any]:
        return body

    return app
