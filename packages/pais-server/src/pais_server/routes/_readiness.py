"""Readiness checks: the memory backend and the model API must answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from pais_core import PaisError

__all__ = ["Check", "Readiness", "model_api_probe"]

Probe = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str | None = None


class Readiness:
    """Named dependency probes, each returning None when healthy or a detail string, cached briefly."""

    def __init__(self, *, cache_seconds: float = 1.0) -> None:
        self._probes: dict[str, Probe] = {}
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, Check]] | None = None
        self.draining = False

    def add(self, name: str, probe: Probe) -> None:
        self._probes[name] = probe

    async def check(self) -> dict[str, Check]:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        names = list(self._probes)
        outcomes = await asyncio.gather(*(self._run(self._probes[name]) for name in names))
        results = dict(zip(names, outcomes, strict=True))
        self._cached = (now, results)
        return results

    @staticmethod
    async def _run(probe: Probe) -> Check:
        try:
            async with asyncio.timeout(3.0):
                detail = await probe()
        except PaisError as exc:
            return Check(ok=False, detail=exc.message)
        except TimeoutError:
            return Check(ok=False, detail="did not answer within 3s")
        except Exception as exc:
            return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
        return Check(ok=detail is None, detail=detail)


def model_api_probe(client: httpx.AsyncClient, base_url: str) -> Probe:
    """A probe that the model API answers `GET /models` (any non-5xx status counts as reachable)."""

    async def probe() -> str | None:
        try:
            response = await client.get(f"{base_url}/models", timeout=2.0)
        except httpx.HTTPError as exc:
            return f"{base_url} is unreachable: {type(exc).__name__}: {exc}"
        if response.status_code >= 500:
            return f"{base_url}/models returned HTTP {response.status_code}"
        return None

    return probe
