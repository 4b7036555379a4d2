#!/usr/bin/env bash
# Runs the whole PAIS test suite: lint, format and type checks, then unit, integration (real Redis,
# real model servers) and e2e tests on local processes. Arguments go to pytest; its exit code is
# the script's (a failed check before it stops the script with the check's code).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bootstrap.sh disable=SC1091
source "$repo_root/scripts/bootstrap.sh"
cd "$repo_root"

ensure_uv
ensure_programs redis-server shellcheck
echo "==> syncing the uv workspace with the local model (the first sync compiles llama-cpp-python, ~5-8 minutes; cached afterwards)"
uv sync --all-packages --frozen --group local-model --quiet

echo "==> ruff check"
uv run --frozen ruff check
echo "==> ruff format --check"
uv run --frozen ruff format --check
echo "==> pyright (strict on every package's src; tests and bench in a relaxed environment)"
# --stats prints how many files were checked; its timing tables are left out.
uv run --frozen pyright --stats 2>&1 |
  grep -vE '^(\[FG\]|Auto-excluding|Loading |pyright [0-9]|Completed in|Analysis stats|Total files parsed|Timing stats|[A-Za-z ]+: +[0-9.]+sec$|$)'
echo "==> pytest"
# CI replays the same property-based examples every run (a fixed Hypothesis seed): a red CI then
# means a change broke something, not that the fuzzers drew a new input; locally each run explores anew.
seed=()
if [ "${CI:-}" = true ]; then seed=(--hypothesis-seed=0); fi
uv run --frozen pytest "${seed[@]}" "$@"
