# shellcheck shell=bash disable=SC2034
# Shared by the scripts/kind-*.sh scripts (sourced, not run): names, tool checks, diagnostics.
# (SC2034: the constants below are used by the scripts that source this file.)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
CLUSTER="${PAIS_KIND_CLUSTER:-pais-e2e}"
CONTEXT="kind-${CLUSTER}"
NAMESPACE="pais-e2e"
OVERLAY="${REPO_ROOT}/kind/overlays/e2e"
SERVER_IMAGE="pais-server:dev"
SUPPORT_IMAGE="pais-e2e-support:dev"

log() { printf '[kind] %s\n' "$*" >&2; }

# Exit 0 with "skipped: ..." when docker (with a running daemon), kind or kubectl is missing.
skip_without_cluster_tools() {
  local tool
  for tool in docker kind kubectl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "skipped: $tool is not installed (the kind path needs docker, kind and kubectl; see docs/e2e.md)"
      exit 0
    fi
  done
  if ! docker info >/dev/null 2>&1; then
    echo "skipped: no Docker engine is running (docker info failed; see docs/e2e.md)"
    exit 0
  fi
}

# Refuse (exit 1) unless kubectl's current context is the kind cluster's.
require_kind_context() {
  local current
  current="$(kubectl config current-context 2>/dev/null || true)"
  if [[ "$current" != "$CONTEXT" ]]; then
    echo "refusing: the current kube context is '${current:-none}', not '${CONTEXT}'." >&2
    echo "Run 'make kind-up' (creates the cluster and switches to its context) or" >&2
    echo "'kubectl config use-context ${CONTEXT}' first." >&2
    exit 1
  fi
}

kube() { kubectl --context "$CONTEXT" --namespace "$NAMESPACE" "$@"; }

# Pod state, events and logs of everything the e2e deployment runs, for a failed run.
dump_diagnostics() {
  log "diagnostics for namespace ${NAMESPACE}"
  kube get deployments,pods,services -o wide || true
  kube get events --sort-by=.lastTimestamp || true
  local pod
  for pod in $(kube get pods -o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
    echo "----- logs of ${pod}"
    kube logs "$pod" --all-containers --prefix --tail=300 || true
    if [[ "$(kube get pod "$pod" -o jsonpath='{.status.containerStatuses[*].ready}')" == *false* ]]; then
      kube describe pod "$pod" || true
    fi
  done
}
