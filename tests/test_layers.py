"""Import direction over the whole tree: schemas ← providers ← orchestrator core ← pipeline and
tenants ← operations ← API and CLI ← Celery app and tasks, and the simulator beside the orchestrator,
never inside it. Provider
packages reach no database, queue, web framework or storage client: they stay plugins."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
FIRST_PARTY = ("schemas", "workers", "orchestrator", "bench", "tests")
# Lowest first; a module may import its own layer and those below, nothing above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("schemas", ("schemas",)),
    ("providers", ("workers.providers",)),
    ("simulator", ("workers.simulator",)),
    ("core", ("orchestrator",)),
    # What happens to jobs, and what tenants own and ask for.
    ("domain", ("orchestrator.pipeline", "orchestrator.tenants")),
    ("ops", ("orchestrator.ops",)),
    # The outer edges: the HTTP API and the command line.
    ("edges", ("orchestrator.api", "orchestrator.cli")),
    ("tasks", ("workers.celery_app", "workers.tasks", "workers.runtime")),
]
# Layers that sit side by side: neither may import the other.
INDEPENDENT = {("simulator", layer) for layer in ("core", "domain", "ops", "edges", "tasks")}
# What a provider package may never import (the seam, httpx and pydantic are what it needs).
FRAMEWORKS = (
    "sqlalchemy",
    "celery",
    "kombu",
    "fastapi",
    "starlette",
    "boto3",
    "botocore",
    "redis",
    "psycopg",
)


def layer_of(module: str) -> str | None:
    """The layer of a first-party module: the one whose prefix matches it most specifically."""
    best: tuple[int, str] | None = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), name)
    return best[1] if best else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module `path` imports (at any depth, lazily or not), with its line."""
    package = module_name(path).rpartition(".")[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            # `from workers.providers import kling` imports the submodule too
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def sources(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def breaches(paths: list[Path]) -> list[str]:
    rank = {name: index for index, (name, _) in enumerate(LAYERS)}
    found = []
    for path in paths:
        own = layer_of(module_name(path))
        if own is None:
            continue
        for line, imported in imports(path):
            if not imported.startswith(FIRST_PARTY):
                if own == "providers" and imported.split(".")[0] in FRAMEWORKS:
                    found.append(f"{path.relative_to(ROOT)}:{line} provider code imports {imported}")
                continue
            other = layer_of(imported)
            if other is None or other == own:
                continue
            if rank[other] > rank[own] or (own, other) in INDEPENDENT or (other, own) in INDEPENDENT:
                found.append(f"{path.relative_to(ROOT)}:{line} {own} imports {imported} ({other})")
    return found


def test_layers_imports_point_one_way_over_the_whole_tree() -> None:
    assert breaches(sources("schemas", "workers", "orchestrator")) == []


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("workers/providers/kling/adapter.py", "from orchestrator.models import Job", "providers imports"),
        ("workers/providers/kling/adapter.py", "import sqlalchemy", "provider code imports sqlalchemy"),
        ("workers/providers/suno/wire.py", "from fastapi import Request", "provider code imports fastapi"),
        ("schemas/jobs.py", "from workers.providers import PROVIDERS", "schemas imports"),
        ("orchestrator/ledger.py", "from orchestrator.api import create_app", "core imports"),
        ("orchestrator/lifecycle.py", "from workers.tasks import sweep", "core imports"),
        ("workers/simulator/app.py", "from orchestrator import ledger", "simulator imports"),
        (
            "workers/providers/simulation/engine.py",
            "from fastapi import Request",
            "provider code imports fastapi",
        ),
        ("orchestrator/pipeline/tracking.py", "from workers.simulator import Simulator", "domain imports"),
        ("orchestrator/ledger.py", "from orchestrator.pipeline import tracking", "core imports"),
        ("orchestrator/pipeline/storing.py", "from orchestrator.ops import metrics", "domain imports"),
        ("orchestrator/ops/audit.py", "from orchestrator.cli import main", "ops imports"),
    ],
)
def test_layers_test_catches_an_import_against_the_direction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, line: str, expected: str
) -> None:
    """The check fails when a planted import goes the wrong way (a copy of the tree, untouched)."""
    planted = tmp_path / module
    planted.parent.mkdir(parents=True)
    planted.write_text((ROOT / module).read_text() + f"\n{line}\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    found = breaches([planted])
    assert any(expected in breach for breach in found), found
