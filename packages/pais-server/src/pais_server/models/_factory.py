"""The model an agent built from the environment talks to."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from pydantic_ai.models import Model

from pais_core import Settings

from ._mock import mock_model

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["ModelHandle", "model_from_settings"]

logger = logging.getLogger("pais_server.model")


@dataclass
class ModelHandle:
    """A model plus the API client it owns (None for offline models)."""

    model: Model
    client: AsyncOpenAI | None = None
    base_url: str | None = None

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.close()


def model_from_settings(settings: Settings) -> ModelHandle:
    """`DEBUG_MOCK_RESPONSES` > `MODEL_NAME=test` > Chat Completions at `MODEL_API_URL` > offline TestModel.

    `Settings.from_env` has already rejected a model name without a URL and vice versa.
    """
    if settings.debug_mock_responses:
        return ModelHandle(mock_model(settings.debug_mock_responses))
    if settings.model_name == "test":
        return _test_model()
    if settings.model_api_url is None or settings.model_name is None:
        logger.warning("MODEL_API_URL is not set: answering with Pydantic AI's offline TestModel")
        greeting = (
            f"Hello from {settings.agent_name}! I am answering with Pydantic AI's offline test model; "
            "set MODEL_API_URL and MODEL_NAME to talk to a real LLM."
        )
        return _test_model(greeting)
    return _chat_completions_model(settings, settings.model_name)


def _test_model(output_text: str | None = None) -> ModelHandle:
    from pydantic_ai.models.test import TestModel  # imported only by servers that answer offline

    return ModelHandle(TestModel(custom_output_text=output_text))


def _chat_completions_model(settings: Settings, model_name: str) -> ModelHandle:
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles.openai import OpenAIModelProfile
    from pydantic_ai.providers.openai import OpenAIProvider

    base_url = settings.model_base_url
    client = AsyncOpenAI(
        base_url=base_url,
        api_key=settings.model_api_key or "unused",
        timeout=settings.model_timeout_seconds,
        max_retries=0,  # MODEL_TIMEOUT_SECONDS bounds the whole call: a retry would double it
    )
    # OpenAI's own API takes `max_completion_tokens`; llama.cpp, Ollama and most compatible servers only honour
    # `max_tokens` and silently ignore the newer field
    openai_itself = base_url is not None and httpx.URL(base_url).host == "api.openai.com"
    profile = OpenAIModelProfile(openai_chat_supports_max_completion_tokens=openai_itself)
    model = OpenAIChatModel(model_name, provider=OpenAIProvider(openai_client=client), profile=profile)
    return ModelHandle(model, client=client, base_url=base_url)
