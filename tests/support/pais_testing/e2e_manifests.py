"""Render the kind kustomizations offline and read the agents' environment from them.

A small renderer for the subset of kustomize that `kind/` uses (resources, namespace, images,
strategic-merge patches with an optional kind/name/labelSelector target), so CI can validate the
manifests and run the local e2e target with exactly the environment the cluster gets, without
kubectl. `tests/e2e/test_manifests.py` checks it against `kubectl kustomize` where kubectl exists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

__all__ = [
    "AGENT_IMAGE",
    "KIND_DIR",
    "agent_deployments",
    "container_env",
    "render",
    "rewrite_service_urls",
]

KIND_DIR = Path(__file__).resolve().parents[3] / "kind"
AGENT_IMAGE = "pais-server"

Resource = dict[str, Any]

_SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}
# patchMergeKey of the Kubernetes list fields the manifests patch; other lists are replaced.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


def render(directory: Path) -> list[Resource]:
    """The resources `kubectl kustomize directory` would print, as dicts."""
    kustomization = _load_one(directory / "kustomization.yaml")
    unknown = set(kustomization) - _SUPPORTED
    if unknown:
        raise ValueError(f"{directory}/kustomization.yaml uses unsupported fields: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources.extend(render(path) if path.is_dir() else _load_all(path))
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, _load_one(directory / patch["path"]), patch.get("target"))
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] not in _CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources


def agent_deployments(resources: Iterable[Resource]) -> dict[str, Resource]:
    """The Deployments whose first container runs the PAIS image, by name."""
    return {
        r["metadata"]["name"]: r
        for r in resources
        if r["kind"] == "Deployment" and _image_name(_containers(r)[0]["image"]) == AGENT_IMAGE
    }


def container_env(deployment: Resource) -> dict[str, str]:
    """The literal `env` of a Deployment's first container (valueFrom entries are refused)."""
    env: dict[str, str] = {}
    for item in _containers(deployment)[0].get("env", []):
        if "value" not in item:
            raise ValueError(f"{deployment['metadata']['name']}: env {item['name']} has no literal value")
        env[item["name"]] = str(item["value"])
    return env


def rewrite_service_urls(env: Mapping[str, str], services: Mapping[str, str]) -> dict[str, str]:
    """Replace `scheme://service:port` in every URL-valued variable by the `host:port` in `services`.

    Handles single URLs and the `name:url,name:url` list of `AGENT_SUB_AGENTS`. A URL naming a
    service missing from `services` raises, so a new in-cluster dependency cannot go unnoticed.
    """
    return {name: _rewrite_value(name, value, services) for name, value in env.items()}


def _rewrite_value(variable: str, value: str, services: Mapping[str, str]) -> str:
    if variable == "AGENT_SUB_AGENTS":
        entries = []
        for entry in value.split(","):
            agent, _, url = entry.partition(":")
            entries.append(f"{agent}:{_rewrite_url(variable, url, services)}")
        return ",".join(entries)
    if "://" not in value:
        return value
    return _rewrite_url(variable, value, services)


def _rewrite_url(variable: str, url: str, services: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    if parts.hostname is None or parts.hostname not in services:
        raise KeyError(f"{variable}={url}: no local stand-in for service {parts.hostname!r}")
    return urlunsplit(parts._replace(netloc=services[parts.hostname]))


def _load_all(path: Path) -> list[Resource]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _load_one(path: Path) -> Resource:
    documents = _load_all(path)
    if len(documents) != 1:
        raise ValueError(f"{path}: expected one YAML document, found {len(documents)}")
    return documents[0]


def _containers(resource: Resource) -> list[dict[str, Any]]:
    return resource["spec"]["template"]["spec"]["containers"]


def _matches(resource: Resource, patch: Resource, target: Mapping[str, str] | None) -> bool:
    if target is None:
        return resource["kind"] == patch["kind"] and resource["metadata"]["name"] == patch["metadata"]["name"]
    if "kind" in target and resource["kind"] != target["kind"]:
        return False
    if "name" in target and resource["metadata"]["name"] != target["name"]:
        return False
    labels = resource["metadata"].get("labels", {})
    for requirement in filter(None, target.get("labelSelector", "").split(",")):
        key, _, value = requirement.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _apply_patch(resources: list[Resource], patch: Resource, target: Mapping[str, str] | None) -> None:
    matched = [r for r in resources if _matches(r, patch, target)]
    if not matched:
        raise ValueError(f"patch {patch['kind']}/{patch['metadata']['name']} (target {target}) matches nothing")
    body = {k: v for k, v in patch.items() if k not in {"apiVersion", "kind", "metadata"}}
    for resource in matched:
        resource.update(_merge(resource, body))


def _merge(base: Any, patch: Any, field: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in _MERGE_KEYS:
        key = _MERGE_KEYS[field]
        merged_list = [copy.deepcopy(item) for item in base]
        index = {item[key]: i for i, item in enumerate(merged_list)}
        for item in patch:
            if item[key] in index:
                merged_list[index[item[key]]] = _merge(merged_list[index[item[key]]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _image_name(image: str) -> str:
    return image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image


def _set_image(resources: list[Resource], image: Mapping[str, str]) -> None:
    for resource in resources:
        if resource["kind"] not in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            continue
        spec = resource["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            if _image_name(container["image"]) == image["name"]:
                name = image.get("newName", image["name"])
                tag = image.get("newTag")
                container["image"] = f"{name}:{tag}" if tag else name
