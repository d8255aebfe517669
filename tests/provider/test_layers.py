"""The provider's layers, kept true: parse every module's imports and refuse upward ones.

The layers, bottom to top, are written down in ``docs/architecture.md``; a module may
import its own layer and the layers below it, never one above, never a peer (sensors and
operators do not import each other), and never the sandbox, demo or examples. Imports
inside functions and under ``TYPE_CHECKING`` count too: a deferred import is still a
dependency. ``__main__`` modules are entry points nothing imports, so they may delegate
upwards (``python -m xero_provider.auth`` runs the CLI that lives in ``connect``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "xero_provider"

# Rank of each layer (higher may import lower); the first dotted part below xero_provider
# names the layer. Modules of one rank may import each other, except the peers below.
LAYERS: dict[str, int] = {
    "exceptions": 0,
    "config": 0,
    "resources": 0,
    "assets": 0,  # one asset name per organisation and resource (webhooks, watchers, DAGs)
    "formats": 0,
    "tiers": 0,
    "get_provider_info": 0,
    "state": 1,
    "batch_claims": 1,  # the documented public name of state.batch_claims
    "auth": 2,
    "hooks": 3,
    "triggers": 4,
    "sensors": 5,
    "operators": 5,
    "connect": 6,
}
PEERS = {"sensors", "operators"}  # both build on hooks and triggers, never on each other
OUTSIDE = ("xero_sandbox", "xero_demo", "xero_examples", "xero_soak")


def layer_of(module: str) -> str:
    """``xero_provider.state.feed`` -> ``state``; the package root is its own case."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """``(line, absolute module)`` for every import in the file, relative ones resolved."""
    source = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(source, filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "xero_provider":  # ``from xero_provider import hooks``: that layer
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


def violations(path: Path, text: str | None = None) -> list[str]:
    """What ``path`` (or ``text`` as if it were that file) imports against the rule."""
    own = layer_of(module_name(path))
    problems = []
    for line, target in imports_of(path, text):
        where = f"{path.relative_to(PACKAGE.parent)}:{line}"
        if target.split(".")[0] in OUTSIDE:
            problems.append(f"{where} imports {target} (the provider never imports those)")
            continue
        if not target.startswith("xero_provider.") or path.name == "__main__.py" or not own:
            continue
        other = layer_of(target)
        if other not in LAYERS:
            continue  # ``from xero_provider import something`` re-exported by the root
        upward = LAYERS[other] > LAYERS[own]
        if upward or (other != own and {own, other} <= PEERS):
            problems.append(
                f"{where}: {own} (layer {LAYERS[own]}) imports {target} "
                f"({other}, layer {LAYERS[other]})"
            )
    return problems


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_layer() -> None:
    unknown = {layer_of(module_name(p)) for p in MODULES if layer_of(module_name(p))} - set(LAYERS)
    assert not unknown, f"add these to LAYERS and docs/architecture.md: {sorted(unknown)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_it(path: Path) -> None:
    assert violations(path) == []


def test_the_check_catches_upward_peer_and_outside_imports() -> None:
    probe = PACKAGE / "state" / "probe.py"  # never written: its text is handed in
    text = (
        "from xero_provider.triggers.changes import batch_of\n"
        "def f():\n"
        "    from xero_provider import hooks\n"
        "    import xero_sandbox.app\n"
        "    from ..connect import cli\n"
        "    from .feed import Position\n"
    )
    found = "\n".join(violations(probe, text))
    for target in ("triggers.changes", "provider.hooks", "xero_sandbox.app", "provider.connect "):
        assert target in found
    assert "feed" not in found  # its own layer
    assert len(violations(probe, text)) == 4
    peer = PACKAGE / "sensors" / "probe.py"
    assert violations(peer, "from xero_provider.operators.base import XeroOperator\n")
    assert violations(peer, "from xero_provider.triggers.changes import MODES\n") == []


# --- no import loops (run-time imports: ``TYPE_CHECKING`` blocks never run) -------------

SANDBOX = PACKAGE.parents[1] / "include" / "xero_sandbox"


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at run time (a ``from pkg import mod``
    counts as importing ``pkg.mod``, not ``pkg``'s ``__init__``)."""
    paths = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        paths[".".join(parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    target = ".".join(base[: len(base) - node.level + 1] + [target] * bool(target))
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in paths]
                targets = subs if len(subs) == len(node.names) else [target, *subs]
            else:
                continue
            for target in targets:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import loop once, as the modules on it (depth-first, colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                found.append(stack[stack.index(other) :])
            elif other not in state:
                visit(other)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return found


@pytest.mark.parametrize("root", [PACKAGE, SANDBOX], ids=["provider", "sandbox"])
def test_no_import_loops(root: Path) -> None:
    assert cycles(import_graph(root)) == []


def test_the_loop_check_finds_a_loop() -> None:
    graph = {"p.seed": {"p.demo"}, "p.demo": {"p.seed"}, "p.base": set()}
    assert cycles(graph) == [["p.demo", "p.seed"]]
