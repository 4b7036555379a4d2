"""A one-tool scenario for measuring how well a model calls tools: `get_weather(city)` over ten cities.

A case succeeds when the model called the tool with arguments that passed validation and the
temperature the tool returned appears in the final answer. The temperature depends on the city the
model asked for, so an answer made up without the tool does not pass by luck.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.usage import UsageLimits

__all__ = ["CITIES", "CaseResult", "WeatherScenario"]

CITIES = ("Paris", "Berlin", "Tokyo", "Madrid", "Rome", "Oslo", "Lima", "Cairo", "Dublin", "Vienna")


def temperature(city: str) -> int:
    return 10 + sum(map(ord, city.strip().lower())) % 25


@dataclass
class CaseResult:
    city: str
    output: str
    calls: list[tuple[str, int]]
    seconds: float
    first_call_seconds: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The tool was called and a temperature it returned is in the answer."""
        return self.error is None and any(str(temp) in self.output for _, temp in self.calls)

    @property
    def exact_arguments(self) -> bool:
        """The tool was called for the city the user asked about."""
        return any(city.strip().lower() == self.city.lower() for city, _ in self.calls)


@dataclass
class WeatherScenario:
    """An agent with the weather tool; `max_steps` bounds the model requests per run like AGENTIC_LOOP_MAX_STEPS."""

    model: Model
    max_steps: int = 5
    max_tokens: int = 96
    calls: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])
    _first_call_at: float | None = None

    def __post_init__(self) -> None:
        self.agent = Agent(
            self.model,
            instructions="You are a helpful assistant.",
            model_settings={"temperature": 0.0, "seed": 0, "max_tokens": self.max_tokens},
        )

        @self.agent.tool_plain
        def get_weather(city: str) -> str:
            """Get the current weather for a city."""
            temp = temperature(city)
            self.calls.append((city, temp))
            self._first_call_at = self._first_call_at or time.monotonic()
            return f"{temp} degrees Celsius and sunny"

    async def run(self, city: str, *, stream: bool = False) -> CaseResult:
        self.calls = []
        self._first_call_at = None
        question = f"What is the weather in {city}?"
        limits = UsageLimits(request_limit=self.max_steps)
        started = time.monotonic()
        try:
            if stream:
                async with self.agent.run_stream(question, usage_limits=limits) as run:
                    output = await run.get_output()
            else:
                output = (await self.agent.run(question, usage_limits=limits)).output
        except Exception as exc:  # a failed run is a failed case, reported with its error
            output, error = "", f"{type(exc).__name__}: {exc}"
        else:
            error = None
        first_call = None if self._first_call_at is None else self._first_call_at - started
        return CaseResult(city, output, list(self.calls), time.monotonic() - started, first_call, error)
