"""Several `python -m pais_server` replicas of one agent, and an echo model that shows their history.

The echo model answers `echo: <prompt> | history: <earlier user messages, '; '-separated>`, so
every reply proves which turns the replica gave the model as history. Prompts starting with
`slow` are answered after `SLOW_SECONDS`, to hold a session busy.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx

from .ports import free_port, wait_for_http
from .process import ManagedProcess, pais_server_process
from .scripted_model import ModelCall, Reply

__all__ = [
    "SLOW_SECONDS",
    "echo_reply",
    "echo_with_history",
    "read_events",
    "redis_replica_env",
    "replicas",
    "scripted_redis_env",
]

SLOW_SECONDS = 4.0


def echo_reply(prompt: str, history: list[str]) -> str:
    """What `echo_with_history` answers to `prompt` after the user messages `history`."""
    return f"echo: {prompt} | history: {'; '.join(history)}"


def echo_with_history(call: ModelCall) -> Reply:
    """The echo model's handler for `ScriptedModelServer`."""
    *history, prompt = call.text_of("user")
    return Reply(text=echo_reply(prompt, history), delay=SLOW_SECONDS if prompt.startswith("slow") else 0.0)


def scripted_redis_env(model_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """A replica's environment: the scripted model at `model_url`, Redis memory at `redis_url`, quiet logs."""
    return {
        "MODEL_API_URL": model_url,
        "MODEL_NAME": "scripted",
        "MEMORY_TYPE": "redis",
        "MEMORY_REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def redis_replica_env(model_url: str, redis_url: str, *, lock_timeout: float, **extra: str) -> dict[str, str]:
    """The environment of one replica of agent `shared-agent` with Redis memory and the model at `model_url`."""
    return scripted_redis_env(
        model_url, redis_url, AGENT_NAME="shared-agent", SESSION_LOCK_TIMEOUT_SECONDS=str(lock_timeout), **extra
    )


@contextmanager
def replicas(count: int, env: Mapping[str, str], *, ready_timeout: float = 60.0) -> Generator[list[str]]:
    """Start `count` PAIS processes with `env` on free ports; yields their base URLs once all are ready."""
    with ExitStack() as stack:
        procs: list[ManagedProcess] = []
        urls: list[str] = []
        for _ in range(count):
            port = free_port()
            procs.append(stack.enter_context(pais_server_process(env, port=port)))
            urls.append(f"http://127.0.0.1:{port}")
        for proc, url in zip(procs, urls, strict=True):
            try:
                wait_for_http(f"{url}/ready", timeout=ready_timeout)
            except TimeoutError as exc:
                raise RuntimeError(f"replica {url} did not become ready:\n{proc.output()}") from exc
        yield urls


async def read_events(client: httpx.AsyncClient, url: str, session_id: str, *, page: int) -> list[dict[str, Any]]:
    """Every event of `session_id` from the replica at `url`, following `next_cursor` `page` at a time."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"session_id": session_id, "limit": str(page), **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{url}/memory/events", params=params)
        response.raise_for_status()
        body = response.json()
        assert len(body["events"]) <= page
        events.extend(body["events"])
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["total"] == len(events), body
            return events
