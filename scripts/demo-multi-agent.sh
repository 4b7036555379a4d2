#!/usr/bin/env bash
# The local multi-agent demo in one command: redis + scripted/SmolLM2 models + orchestrator x2 +
# worker-a + worker-b on loopback, one delegated chat streamed with its progress, then all stopped.
# Usage: scripts/demo-multi-agent.sh ["@worker-b In one sentence, what is the capital of France?"]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing: apt-get install redis-server" >&2
  exit 1
fi
PYTHONPATH="${PWD}/tests/support${PYTHONPATH:+:${PYTHONPATH}}" \
  exec uv run --frozen python -m pais_testing.e2e_demo "$@"
