"""The Responses endpoint against chat completions on the same PAIS server, in the same run.

Prints non-streaming throughput (wrk, 16 clients) and streamed first-token latency (median of
sequential requests, time to the first text delta) for `POST /v1/responses` as ratios to
`POST /v1/chat/completions`, measured in interleaved rounds. Both run the same runner on the same
instant in-process model, so the ratios show what the Responses translation costs.

    uv run python bench/server/bench_responses.py [--seconds 2] [--rounds 5] [--streams 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import Load, free_port, median, save, start_server, uvicorn_argv, wrk

HERE = Path(__file__).resolve().parent
PROMPT = "What is the answer?"
ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": PROMPT}]}),
    "responses": ("/v1/responses", {"input": PROMPT}),
}


def first_token_ms(client: httpx.Client, path: str, body: dict[str, Any]) -> float:
    """Milliseconds from sending a streamed request to its first text delta."""
    started = time.perf_counter()
    with client.stream("POST", path, json={**body, "stream": True}) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = json.loads(line.removeprefix("data: "))
            chat_text = data.get("choices") and data["choices"][0].get("delta", {}).get("content")
            if chat_text or data.get("type") == "response.output_text.delta":
                return (time.perf_counter() - started) * 1000
    raise RuntimeError(f"{path} streamed no text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=2, help="load duration of one throughput round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per endpoint")
    parser.add_argument("--streams", type=int, default=50, help="streamed requests per endpoint and round")
    args = parser.parse_args()

    port = free_port()
    server = start_server(uvicorn_argv("apps:pais_app", port, HERE), port=port, env={})
    loads: dict[str, list[Load]] = {name: [] for name in ENDPOINTS}
    ttft: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for path, body in ENDPOINTS.values():  # warm-up
                wrk(f"{server.url}{path}", connections=16, seconds=1, body=json.dumps(body))
                first_token_ms(client, path, body)
            for _ in range(args.rounds):
                for name, (path, body) in ENDPOINTS.items():
                    loads[name].append(
                        wrk(f"{server.url}{path}", connections=16, seconds=args.seconds, body=json.dumps(body))
                    )
                    ttft[name].append(median([first_token_ms(client, path, body) for _ in range(args.streams)]))
    finally:
        server.stop()

    rps = {name: median([load.rps for load in loads[name]]) for name in ENDPOINTS}
    errors = {name: sum(load.errors for load in loads[name]) for name in ENDPOINTS}
    first = {name: median(ttft[name]) for name in ENDPOINTS}
    print(f"\nsame PAIS server, instant in-process model, median of {args.rounds} interleaved rounds")
    print(f"{'endpoint':<10} {'req/s (16 clients)':>18} {'errors':>6} {'first token ms':>15}")
    for name in ENDPOINTS:
        print(f"{name:<10} {rps[name]:>18.0f} {errors[name]:>6} {first[name]:>15.2f}")
    print(
        f"\nresponses vs chat: throughput {rps['responses'] / rps['chat']:.0%}, "
        f"first-token latency {first['responses'] / first['chat']:.2f}x (target: within 10%)"
    )
    print(f"results: {save('responses', {'rps': rps, 'errors': errors, 'first_token_ms': first})}")


if __name__ == "__main__":
    main()
