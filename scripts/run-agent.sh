#!/usr/bin/env bash
# Starts a PAIS agent with embedded defaults (local memory; Pydantic AI's offline test model unless
# MODEL_API_URL/MODEL_NAME are set), shows it answering one chat request, then keeps serving.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bootstrap.sh
source "$repo_root/scripts/bootstrap.sh"
cd "$repo_root"

export AGENT_NAME="${AGENT_NAME:-pais-agent}"
export AGENT_PORT="${AGENT_PORT:-8000}"
url="http://127.0.0.1:${AGENT_PORT}"

uv run --frozen python -m pais_server &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$url/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
  sleep 0.2
done

echo "==> POST $url/v1/chat/completions"
curl -fsS "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"messages": [{"role": "user", "content": "Hello, who are you?"}]}'
echo
echo "==> $AGENT_NAME is serving on $url (OpenAI base URL $url/v1); Ctrl+C stops it"
wait "$server"
