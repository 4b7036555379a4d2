#!/usr/bin/env bash
# Create the kind cluster (idempotent), build and load the images, deploy kind/overlays/e2e and
# wait until every Deployment has rolled out. Leaves kubectl on the cluster's context.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=kind-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/kind-lib.sh"
skip_without_cluster_tools

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "cluster ${CLUSTER} exists; using it"
  kind export kubeconfig --name "$CLUSTER"
else
  log "creating cluster ${CLUSTER}"
  kind create cluster --config "${REPO_ROOT}/kind/cluster.yaml" --name "$CLUSTER" --wait 120s
fi

log "building ${SERVER_IMAGE} and ${SUPPORT_IMAGE}"
docker build --tag "$SERVER_IMAGE" "$REPO_ROOT"
docker build --tag "$SUPPORT_IMAGE" --build-arg "BASE_IMAGE=${SERVER_IMAGE}" \
  --file "${REPO_ROOT}/kind/e2e-support/Dockerfile" "$REPO_ROOT"
kind load docker-image --name "$CLUSTER" "$SERVER_IMAGE" "$SUPPORT_IMAGE"

log "deploying ${OVERLAY}"
kubectl --context "$CONTEXT" apply --kustomize "$OVERLAY"
# New images under the same tag: restart the agents so they run what was just loaded.
kube rollout restart deployment --selector app.kubernetes.io/component=agent
kube rollout restart deployment/e2e-support

log "waiting for rollouts (Ollama pulls smollm2:135m first: a few minutes on the first run)"
for deployment in $(kube get deployments -o jsonpath='{.items[*].metadata.name}'); do
  if ! kube rollout status "deployment/${deployment}" --timeout=600s; then
    dump_diagnostics
    exit 1
  fi
done
log "ready: kubectl --context ${CONTEXT} --namespace ${NAMESPACE} get pods"
