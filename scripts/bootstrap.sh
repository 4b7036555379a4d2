#!/usr/bin/env bash
# Helpers for the other scripts (sourced, not run): install what PAIS needs on a fresh machine.
# Every step is skipped when already done.
#   ensure_uv                uv from PyPI (pip --user), when it is not on PATH
#   ensure_programs PROG...  the Debian packages of the missing programs (apt-get, when root)
set -euo pipefail

export PATH="$HOME/.local/bin:$PATH"

ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    echo "==> installing uv"
    python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  fi
}

# The Debian package of each program has the program's name (redis-server, shellcheck).
ensure_programs() {
  local program missing=()
  for program in "$@"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("$program")
  done
  if [ "${PAIS_SKIP_APT:-0}" = 1 ] || [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: ${missing[*]} missing and cannot apt-get install (not root); tests needing them will fail" >&2
  fi
}
