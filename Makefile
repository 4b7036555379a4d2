# PAIS end-to-end targets (docs/e2e.md). The kind targets print "skipped: ..." and succeed
# where docker, kind or kubectl is missing.

PYTEST ?= uv run --frozen pytest
export PYTEST

.PHONY: help e2e-local e2e-kind kind-up kind-down validate-manifests demo

help:
	@echo "make e2e-local          the e2e suite against local processes (redis, SmolLM2, 4 agents)"
	@echo "make kind-up            create the kind cluster, build and load images, deploy, wait"
	@echo "make e2e-kind           the e2e suite against the kind cluster (current context must be kind-pais-e2e)"
	@echo "make kind-down          delete the kind cluster"
	@echo "make validate-manifests render and schema-check kind/, hadolint, shellcheck, env contract"
	@echo "make demo               the local multi-agent demo: one delegated chat with its progress"

e2e-local:
	PAIS_E2E_TARGETS=local $(PYTEST) tests/e2e -p no:cacheprovider

e2e-kind:
	scripts/kind-e2e.sh

kind-up:
	scripts/kind-up.sh

kind-down:
	scripts/kind-down.sh

validate-manifests:
	$(PYTEST) tests/e2e/test_manifests.py tests/e2e/test_tooling.py tests/e2e/test_env_contract.py -p no:cacheprovider

demo:
	scripts/demo-multi-agent.sh
