#!/usr/bin/env bash
# Runs the whole PAIS test suite: unit, integration (real Redis, real model servers), e2e on local processes.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bootstrap.sh disable=SC1091
source "$repo_root/scripts/bootstrap.sh"
cd "$repo_root"
uv run --frozen pytest "$@"
