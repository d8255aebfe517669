"""Declared = used: every distribution pyproject.toml declares is imported by the code it
is declared for, and every third-party import is declared (a transitive dependency that
happens to be installed is not enough: it can go away with any upgrade)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS = PROJECT["optional-dependencies"]
# What each part of the repo may import: its own requirements plus those below it.
PARTS = {
    "provider": (["plugins/xero_provider", "include/xero_examples", "dags"], []),
    "sandbox": (["include/xero_sandbox"], ["sandbox"]),
    "demo": (["include/xero_demo"], ["sandbox", "demo"]),
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extras: list[str]) -> set[str]:
    """The distribution names in ``dependencies`` plus those extras (no versions)."""
    specs = [*PROJECT["dependencies"], *(s for e in extras for s in EXTRAS[e])]
    return {normalise(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]) for spec in specs}


def third_party_imports(folders: list[str]) -> set[str]:
    """Top-level modules imported from outside the standard library and the repo."""
    found: set[str] = set()
    for folder in folders:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and not m.startswith("xero_")}


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def distributions_of(module: str) -> set[str]:
    names = {normalise(d) for d in _installed().get(module, [])}
    # ``airflow`` is split over core, task SDK and providers; ``apache-airflow`` brings them.
    return names | ({"apache-airflow"} if module == "airflow" else set())


@pytest.mark.parametrize("part", PARTS)
def test_every_import_is_declared(part: str) -> None:
    folders, extras = PARTS[part]
    allowed = declared(extras)
    missing = {
        module: sorted(distributions_of(module))
        for module in third_party_imports(folders)
        if not distributions_of(module) & allowed
    }
    assert missing == {}, f"declare these in pyproject.toml for {part}"


def test_every_declared_distribution_is_imported() -> None:
    used: dict[str, set[str]] = {}
    for part, (folders, _) in PARTS.items():
        for module in third_party_imports(folders):
            for distribution in distributions_of(module):
                used.setdefault(distribution, set()).add(part)
    unused = sorted(d for d in declared(list(EXTRAS)) if d not in used)
    assert unused == [], "declared but never imported: drop them or say why in the README"
