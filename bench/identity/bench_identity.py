"""Cost of identity per request, as a ratio to the static key: inbound JWT validation, outbound headers.

Inbound: PAIS's auth middleware in-process (ASGI, no sockets) in front of an app that does nothing,
with `Authorization: Bearer <static key>` vs a signed RS256 JWT (JWKS already cached), both with the
full signature check and as the verifier remembers a token it verified. Outbound: the
headers a target's credential provider computes per call: `none` with a static key vs `forward` vs
`exchange` with the exchanged token cached (the first exchange, done before timing, is a real RFC 8693
call to a loopback token endpoint). Rounds interleave the variants so a drifting core speed hits all
alike; the median round is reported.

    uv run python bench/identity/bench_identity.py [--requests 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "support")]

from _harness import save  # noqa: E402
from pais_testing.identity_provider import IdentityProvider  # noqa: E402

from pais_core import Settings, TokenExchangeConfig, principal_scope  # noqa: E402
from pais_server.auth import Credentials, JwtVerifier  # noqa: E402
from pais_server.auth._inbound import BearerAuth  # noqa: E402

AUDIENCE = "bench-agent"


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    return None


async def _receive() -> Any:
    return {"type": "http.disconnect"}


async def _send(message: Any) -> None:
    return None


def _inbound(middleware: BearerAuth, authorization: str) -> Callable[[], Awaitable[None]]:
    scope = {
        "type": "http",
        "path": "/v1/models",
        "method": "GET",
        "headers": [(b"authorization", authorization.encode())],
    }

    async def call() -> None:
        await middleware(scope, _receive, _send)

    return call


def _forgetting(verifier: JwtVerifier, call: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """`call` with the verifier's memory of verified tokens cleared first: the full signature check."""

    async def forgetting() -> None:
        verifier._verified.clear()
        await call()

    return forgetting


async def _timed(call: Callable[[], Awaitable[None]], requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await call()
    return (time.perf_counter() - started) / requests * 1e6


async def run(requests: int, rounds: int) -> dict[str, Any]:
    with IdentityProvider(clients={"bench-agent": "secret"}) as idp:
        settings = Settings(
            agent_name="bench",
            agent_api_key="static-key",
            auth_jwks_url=idp.jwks_url,
            auth_issuer=idp.issuer,
            auth_audience=AUDIENCE,
            agent_auth_client_id="bench-agent",
            agent_auth_client_secret="secret",
            token_exchange=TokenExchangeConfig(issuer=idp.issuer, token_endpoint=idp.token_url),
        )
        verifier = JwtVerifier.from_settings(settings)
        assert verifier is not None
        middleware = BearerAuth(_noop, api_key="static-key", verifier=verifier)
        token = idp.issue("alice", audience=AUDIENCE)
        principal = await verifier.verify(token)  # reads the JWKS once
        credentials = Credentials(settings)
        static = credentials.for_target("tools", "none", "static-key")
        forward = credentials.for_target("tools", "forward")
        exchange = credentials.for_target("worker", "exchange")
        assert static is not None
        assert forward is not None
        assert exchange is not None
        variants: dict[str, Callable[[], Awaitable[None]]] = {
            "inbound static key": _inbound(middleware, "Bearer static-key"),
            "inbound JWT (RS256, verified)": _forgetting(verifier, _inbound(middleware, f"Bearer {token}")),
            "inbound JWT (remembered)": _inbound(middleware, f"Bearer {token}"),
        }
        with principal_scope(principal):
            await exchange.headers()  # the one real exchange (and the agent's client-credentials token)
            for name, provider in (
                ("outbound none", static),
                ("outbound forward", forward),
                ("outbound exchange (cached)", exchange),
            ):

                async def outbound_call(provider: Any = provider) -> None:
                    await provider.headers()

                variants[name] = outbound_call
            samples: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(rounds):
                for name, call in variants.items():
                    samples[name].append(await _timed(call, requests))
        await credentials.aclose()
        await verifier.aclose()
    micros = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "microseconds_per_request": micros,
        "inbound_jwt_verified_vs_static_key": micros["inbound JWT (RS256, verified)"] / micros["inbound static key"],
        "inbound_jwt_remembered_vs_static_key": micros["inbound JWT (remembered)"] / micros["inbound static key"],
        "outbound_forward_vs_none": micros["outbound forward"] / micros["outbound none"],
        "outbound_exchange_cached_vs_none": micros["outbound exchange (cached)"] / micros["outbound none"],
        "exchanges_done": len(idp.exchanges),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(run(args.requests, args.rounds))
    for name, value in result["microseconds_per_request"].items():
        print(f"{name:32s} {value:9.1f} µs/request")
    print(f"inbound JWT verified / static key:   {result['inbound_jwt_verified_vs_static_key']:.1f}x")
    print(f"inbound JWT remembered / static key: {result['inbound_jwt_remembered_vs_static_key']:.2f}x")
    print(f"outbound forward / none:           {result['outbound_forward_vs_none']:.2f}x")
    print(f"outbound exchange (cached) / none: {result['outbound_exchange_cached_vs_none']:.2f}x")
    print(f"token exchanges done: {result['exchanges_done']}; saved to {save('identity', result)}")


if __name__ == "__main__":
    main()
