#!/usr/bin/env bash
# Installs what PAIS needs on a fresh machine (uv, redis-server, shellcheck) and syncs the workspace.
# Sourced by the other scripts; safe to run again (every step is skipped when already done).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.local/bin:$PATH"

if ! command -v uv >/dev/null 2>&1; then
  echo "==> installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi

apt_missing=()
command -v redis-server >/dev/null 2>&1 || apt_missing+=(redis-server)
command -v shellcheck >/dev/null 2>&1 || apt_missing+=(shellcheck)
if [ "${PAIS_SKIP_APT:-0}" != 1 ] && [ "${#apt_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing ${apt_missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    echo "warning: ${apt_missing[*]} missing and cannot apt-get install (not root); tests needing them will fail" >&2
  fi
fi

echo "==> syncing the uv workspace (first run compiles llama-cpp-python, ~5-8 minutes)"
(cd "$repo_root" && uv sync --all-packages --frozen --quiet)
