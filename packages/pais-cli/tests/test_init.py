"""`pais init`: the generated project is complete, pure Pydantic AI, and its own test passes as generated."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from pais_testing.cli import bare_env, pais, pais_init

import pais_core

GENERATED = [
    "server.py",
    "pyproject.toml",
    "README.md",
    "Dockerfile",
    ".dockerignore",
    ".gitignore",
    "tests/test_agent.py",
]


def test_init_writes_a_complete_project(demo_project: Path) -> None:
    for name in GENERATED:
        assert (demo_project / name).is_file(), name
    project = tomllib.loads((demo_project / "pyproject.toml").read_text())
    dependencies = project["project"]["dependencies"]
    assert f"pais-server=={pais_core.__version__}" in dependencies
    assert f"pais-cli=={pais_core.__version__}" in dependencies
    assert any(d.startswith("pydantic-ai-slim") for d in dependencies)
    assert "sources" not in project["tool"]["uv"]


def test_server_py_is_pure_pydantic_ai(demo_project: Path) -> None:
    tree = ast.parse((demo_project / "server.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {"pydantic_ai"}
    agent_call = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "Agent"
    )
    keywords = {k.arg: ast.unparse(k.value) for k in agent_call.keywords}
    assert keywords["defer_model_check"] == "True"
    assert keywords["name"] == "'demo'"


def test_generated_test_passes_as_generated(demo_project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"],
        cwd=demo_project,
        env=bare_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_init_refuses_a_non_empty_directory_without_force(tmp_path: Path) -> None:
    project = pais_init(tmp_path)
    server = project / "server.py"
    server.write_text("# my edits\n")

    refused = pais("init", "demo", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: demo already exists and is not empty")
    assert "--force" in refused.stderr
    assert server.read_text() == "# my edits\n"

    forced = pais("init", "demo", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "agent = Agent(" in server.read_text()


def test_init_into_dir_and_invalid_names(tmp_path: Path) -> None:
    made = pais("init", "my-agent", "--dir", "projects/here", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert 'name="my-agent"' in (tmp_path / "projects/here/server.py").read_text()

    for bad in ("My Agent", "_agent", "agent-"):
        result = pais("init", bad, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith(f"Error: invalid project name {bad!r}")
        assert "Traceback" not in result.stderr


def test_pais_source_points_uv_at_a_local_checkout(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    project = pais_init(tmp_path, "demo", "--pais-source", str(root))
    sources = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]["sources"]
    assert set(sources) >= {"pais-core", "pais-memory", "pais-delegation", "pais-telemetry", "pais-server", "pais-cli"}
    assert sources["pais-server"] == {"path": str(root / "packages/pais-server"), "editable": True}

    bad = pais("init", "other", "--pais-source", str(tmp_path), cwd=tmp_path)
    assert bad.returncode == 1
    assert "is not a PAIS checkout" in bad.stderr
