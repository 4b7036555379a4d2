"""The smallest A2A servers built from the official `a2a-sdk` server components, for comparison with PAIS.

Its Starlette JSON-RPC routes (0.3 methods accepted beside 1.0), `DefaultRequestHandler`,
`InMemoryTaskStore` and an `AgentExecutor` that answers every message with the same text as the
PAIS mock model: a task with one answer artifact, completed.

- `create_app`: the executor answers at once (the protocol layer alone);
- `create_agent_app`: the executor runs a Pydantic AI agent whose model answers at once (what an
  agent served through the SDK does per task, without memory).

Serve with `uvicorn --factory a2a_sdk_app:create_app` (`A2A_SDK_URL` is the URL its card advertises).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from a2a.helpers import get_message_text, new_task
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, Part, TaskState
from starlette.applications import Starlette

ANSWER = "The answer is 42."


class AnswerExecutor(AgentExecutor):
    """Answers every message with `answer(prompt)` as a completed task."""

    def __init__(self, answer: Callable[[str], Awaitable[str]]) -> None:
        self.answer = answer

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = _ids(context)
        history = [context.message] if context.message is not None else []
        await event_queue.enqueue_event(new_task(task_id, context_id, TaskState.TASK_STATE_SUBMITTED, history=history))
        task = TaskUpdater(event_queue, task_id, context_id)
        await task.update_status(TaskState.TASK_STATE_WORKING)
        prompt = get_message_text(context.message) if context.message is not None else ""
        await task.add_artifact([Part(text=await self.answer(prompt))], name="answer")
        await task.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await TaskUpdater(event_queue, *_ids(context)).cancel()


def _ids(context: RequestContext) -> tuple[str, str]:
    """The task and context ids the request handler assigned (it always does before calling the executor)."""
    if context.task_id is None or context.context_id is None:
        raise ValueError("the request context has no task or context id")
    return context.task_id, context.context_id


def create_app() -> Starlette:
    async def answer(prompt: str) -> str:
        return ANSWER

    return _app(AnswerExecutor(answer))


def create_agent_app() -> Starlette:
    # imported here: the protocol-only server never loads Pydantic AI (its start-up is compared)
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    async def instant(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(ANSWER)])

    agent = Agent(FunctionModel(instant), instructions="You are a helpful assistant.")

    async def answer(prompt: str) -> str:
        return (await agent.run(prompt)).output

    return _app(AnswerExecutor(answer))


def _app(executor: AgentExecutor) -> Starlette:
    url = os.environ.get("A2A_SDK_URL", "http://127.0.0.1:8000/")
    card = AgentCard(
        name="bench-a2a-sdk",
        description="AI Agent",
        version="1.0.0",
        supported_interfaces=[AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="chat", name="chat", description="AI Agent", tags=["chat"])],
    )
    handler = DefaultRequestHandler(agent_executor=executor, task_store=InMemoryTaskStore(), agent_card=card)
    routes = [*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/", enable_v0_3_compat=True)]
    return Starlette(routes=routes)
