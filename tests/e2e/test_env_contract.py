"""The environment contract holds across code, docs and manifests.

- every variable PAIS reads is documented in the README configuration table;
- every variable the kind manifests set on an agent is one PAIS reads.

Variables PAIS reads are the ones `Settings` declares, plus those found in the source: `EnvReader`
calls (`env.text("NAME")`), every f-string shaped like a family (`f"SUB_AGENT_{...}_API_KEY"`) and any
direct `os.environ` / `os.getenv` read in a package. A family is matched with `*` for its variable part.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pais_testing.e2e_manifests import KIND_DIR, agent_deployments, container_env, render

from pais_core import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "packages" / "pais-core" / "src" / "pais_core" / "_settings.py"
README = ROOT / "README.md"
_READER_METHODS = {"text", "required", "boolean", "integer", "seconds", "choice", "url", "json_value", "names", "raw"}
_OTEL_STANDARD = re.compile(r"^OTEL_[A-Z0-9_]+$")
_FAMILY = re.compile(r"^[A-Z][A-Z0-9_]*_\*_[A-Z0-9_]+$")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*(?:[<{][^>}]*[>}][A-Z0-9_]*)*$")


def _pattern(node: ast.expr) -> str | None:
    """`NAME` for a string constant, `PREFIX_*_SUFFIX` for an f-string; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "*" for v in node.values)
    return None


def _reads_in(source: str) -> set[str]:
    reads: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr) and _FAMILY.match(_pattern(node) or ""):
            reads.add(_pattern(node) or "")  # a family name built before it is read
        if not isinstance(node, ast.Call) or not node.args or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        is_reader = isinstance(func.value, ast.Name) and func.value.id == "env" and func.attr in _READER_METHODS
        is_os = func.attr in {"getenv", "get"} and ast.unparse(func.value) in {"os", "os.environ"}
        if func.attr == "first_of" and isinstance(func.value, ast.Name) and func.value.id == "env":
            reads.update(p for p in map(_pattern, node.args) if p)
        elif is_reader or is_os:
            pattern = _pattern(node.args[0])
            if pattern:
                reads.add(pattern)
    return reads


def variables_pais_reads() -> set[str]:
    declared = {name for var, _ in Settings.variables() for name in (var.env or "").split(",") if "<" not in name}
    reads = declared | _reads_in(SETTINGS.read_text())
    for source in ROOT.glob("packages/*/src/**/*.py"):
        if source != SETTINGS:
            reads |= _reads_in(source.read_text())
    return reads


def documented_variables() -> set[str]:
    """Backticked variable names in the first cell of the README's table rows, families as `*`."""
    if not README.exists():
        pytest.fail("README.md does not exist yet: its configuration table documents every variable PAIS reads")
    names: set[str] = set()
    for line in README.read_text().splitlines():
        if not line.lstrip().startswith("|"):
            continue
        first_cell = line.strip().strip("|").split("|")[0]
        for name in re.findall(r"`([^`]+)`", first_cell):
            if _NAME.match(name):
                names.add(re.sub(r"[<{][^>}]*[>}]", "*", name))
    return names


def _matches(name: str, patterns: set[str]) -> bool:
    return any(re.fullmatch(re.escape(p).replace(r"\*", "[^ ]+"), name) for p in patterns)


def test_the_source_scan_finds_the_contract() -> None:
    reads = variables_pais_reads()
    expected = {"AGENT_NAME", "AGENT_PORT", "MODEL_API_URL", "MEMORY_REDIS_URL", "DEBUG_MOCK_RESPONSES"}
    expected |= {"SUB_AGENT_*_API_KEY", "PEER_AGENT_*_CARD_URL", "MCP_SERVER_*_URL", "MCP_SERVER_*_HEADERS"}
    assert expected <= reads, expected - reads


def test_every_variable_pais_reads_is_documented_in_the_readme() -> None:
    documented = documented_variables()
    missing = sorted(v for v in variables_pais_reads() if v not in documented)
    assert not missing, f"README.md configuration table lacks rows for: {', '.join(missing)}"


@pytest.mark.parametrize("overlay", ["base", "overlays/e2e"])
def test_every_variable_the_manifests_set_is_one_pais_reads(overlay: str) -> None:
    reads = variables_pais_reads()
    for name, deployment in agent_deployments(render(KIND_DIR / overlay)).items():
        unknown = [v for v in container_env(deployment) if not (_matches(v, reads) or _OTEL_STANDARD.match(v))]
        assert not unknown, f"{overlay}: {name} sets variables PAIS never reads: {unknown}"
