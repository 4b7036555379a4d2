#!/usr/bin/env bash
# Delete the kind cluster (and with it everything deployed in it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=kind-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/kind-lib.sh"
skip_without_cluster_tools

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  log "no cluster ${CLUSTER}; nothing to delete"
fi
