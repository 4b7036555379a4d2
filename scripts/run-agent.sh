#!/usr/bin/env bash
# Starts a PAIS agent with embedded defaults (local memory; Pydantic AI's offline test model unless
# MODEL_API_URL/MODEL_NAME are set), shows it answering one chat request, then keeps serving.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bootstrap.sh disable=SC1091
source "$repo_root/scripts/bootstrap.sh"
cd "$repo_root"

export AGENT_NAME="${AGENT_NAME:-pais-agent}"
export AGENT_PORT="${AGENT_PORT:-8000}"
url="http://127.0.0.1:${AGENT_PORT}"

uv run --frozen pais run --host 0.0.0.0 --port "$AGENT_PORT" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$url/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
  sleep 0.2
done

echo "==> pais invoke $url -m 'Hello, who are you?' --stream"
uv run --frozen pais invoke "$url" -m "Hello, who are you?" --stream
echo "==> $AGENT_NAME is serving on $url (OpenAI base URL $url/v1); Ctrl+C stops it"
wait "$server"
