"""Offline checks of the kind manifests: they render, they are valid Kubernetes objects for the
cluster version kind runs, and they say what the e2e suite relies on."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pais_testing.e2e_manifests import KIND_DIR, agent_deployments, container_env, render
from pais_testing.e2e_model import ORCHESTRATOR_MODEL, WORKER_A_REPLY

KUBERNETES_VERSION = "1.33.0"  # kind v0.29's default node image
KUSTOMIZATIONS = sorted(p.parent for p in KIND_DIR.rglob("kustomization.yaml"))
RENDERED = [pytest.param(path, id=str(path.relative_to(KIND_DIR))) for path in KUSTOMIZATIONS]


def test_every_kustomization_is_covered() -> None:
    assert {p.relative_to(KIND_DIR).as_posix() for p in KUSTOMIZATIONS} == {"base", "overlays/e2e"}


@pytest.mark.parametrize("directory", RENDERED)
def test_manifests_are_valid_kubernetes_objects(directory: Path) -> None:
    resources = render(directory)
    assert resources
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    keys = [(r["kind"], r["metadata"]["name"]) for r in resources]
    assert len(keys) == len(set(keys)), keys


def _normalised(value: Any, field: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _normalised(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normalised(v) for v in value]
        keyed = field in {"env", "containers", "initContainers", "volumes", "volumeMounts", "ports"}
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True)) if keyed else items
    return value


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="skipped: kubectl is not installed")
@pytest.mark.parametrize("directory", RENDERED)
def test_offline_renderer_agrees_with_kubectl_kustomize(directory: Path) -> None:
    printed = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True)
    theirs = {(r["kind"], r["metadata"]["name"]): _normalised(r) for r in yaml.safe_load_all(printed.stdout) if r}
    mine = {(r["kind"], r["metadata"]["name"]): _normalised(r) for r in render(directory)}
    assert mine == theirs


def _agents(overlay: str) -> dict[str, dict[str, Any]]:
    return agent_deployments(render(KIND_DIR / overlay))


@pytest.mark.parametrize("overlay", ["base", "overlays/e2e"])
def test_agents_are_the_operator_shaped_multi_agent_system(overlay: str) -> None:
    agents = _agents(overlay)
    assert set(agents) == {"orchestrator", "worker-a", "worker-b"}
    assert agents["orchestrator"]["spec"]["replicas"] == 2
    orchestrator = container_env(agents["orchestrator"])
    assert orchestrator["AGENT_SUB_AGENTS"] == "worker-a:http://worker-a:8000,worker-b:http://worker-b:8000"
    assert orchestrator["MEMORY_TYPE"] == "redis"
    assert orchestrator["MEMORY_REDIS_URL"] == "redis://redis:6379/0"
    for name, deployment in agents.items():
        env = container_env(deployment)
        assert env["AGENT_NAME"] == name
        assert env["AGENT_PORT"] == "8000"
        assert env["OTEL_SERVICE_NAME"] == name
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "pais-server:dev"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert {"requests", "limits"} <= set(container["resources"])
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_every_container_has_probes_and_resources() -> None:
    for resource in render(KIND_DIR / "overlays" / "e2e"):
        if resource["kind"] != "Deployment":
            continue
        for container in resource["spec"]["template"]["spec"]["containers"]:
            name = f"{resource['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container, name
            assert "livenessProbe" in container, name
            assert container["resources"]["requests"], name


def test_e2e_overlay_scripts_the_models_the_suite_expects() -> None:
    agents = _agents("overlays/e2e")
    orchestrator = container_env(agents["orchestrator"])
    assert orchestrator["MODEL_API_URL"] == "http://e2e-support:8080"
    assert orchestrator["MODEL_NAME"] == ORCHESTRATOR_MODEL
    assert json.loads(container_env(agents["worker-a"])["DEBUG_MOCK_RESPONSES"]) == [WORKER_A_REPLY]
    worker_b = container_env(agents["worker-b"])
    assert (worker_b["MODEL_API_URL"], worker_b["MODEL_NAME"]) == ("http://ollama:11434", "smollm2:135m")
    assert "DEBUG_MOCK_RESPONSES" not in worker_b
