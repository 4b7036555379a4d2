#!/usr/bin/env bash
# Run tests/e2e against the kind cluster: refuse unless kubectl's current context is the kind
# cluster's, (re)deploy with kind-up.sh, port-forward each orchestrator pod and each worker,
# run the suite's "kind" target, dump pod logs and events on failure, stop the port-forwards.
# PAIS_KIND_TEARDOWN=1 deletes the cluster afterwards. Extra arguments go to pytest.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=kind-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/kind-lib.sh"
skip_without_cluster_tools
require_kind_context

"${REPO_ROOT}/scripts/kind-up.sh"

forward_dir="$(mktemp -d)"
forward_pids=()
# shellcheck disable=SC2317,SC2329 # called by the EXIT trap
cleanup() {
  local pid
  for pid in "${forward_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$forward_dir"
  if [[ "${PAIS_KIND_TEARDOWN:-0}" == "1" ]]; then
    "${REPO_ROOT}/scripts/kind-down.sh"
  fi
}
trap cleanup EXIT

# forward VAR RESOURCE: port-forward RESOURCE's port 8000 to a free local port and set VAR to
# the local base URL (no subshell, so the port-forward's pid is kept for cleanup).
forward() {
  local var="$1" resource="$2" out port="" _
  out="${forward_dir}/${resource//\//_}.log"
  kube port-forward "$resource" ":8000" >"$out" 2>&1 &
  forward_pids+=("$!")
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$out" | head -n 1)"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    log "port-forward to ${resource} failed: $(cat "$out")"
    exit 1
  fi
  printf -v "$var" 'http://127.0.0.1:%s' "$port"
}

read -r -a orchestrator_pods <<<"$(kube get pods --selector app.kubernetes.io/name=orchestrator \
  --field-selector status.phase=Running -o jsonpath='{.items[*].metadata.name}')"
if [[ "${#orchestrator_pods[@]}" -lt 2 ]]; then
  log "expected 2 running orchestrator pods, found: ${orchestrator_pods[*]:-none}"
  dump_diagnostics
  exit 1
fi
# Each replica on its own port: the suite writes through one and reads through the other.
first="" second="" worker_a="" worker_b=""
forward first "pod/${orchestrator_pods[0]}"
forward second "pod/${orchestrator_pods[1]}"
forward worker_a service/worker-a
forward worker_b service/worker-b
export PAIS_E2E_ORCHESTRATOR_URLS="${first},${second}"
export PAIS_E2E_WORKER_A_URL="${worker_a}" PAIS_E2E_WORKER_B_URL="${worker_b}"
export PAIS_E2E_TARGETS=kind

log "running tests/e2e against ${PAIS_E2E_ORCHESTRATOR_URLS}"
cd "$REPO_ROOT"
status=0
${PYTEST:-uv run --frozen pytest} tests/e2e -p no:cacheprovider "$@" || status=$?
if [[ "$status" -ne 0 ]]; then
  dump_diagnostics
fi
exit "$status"
