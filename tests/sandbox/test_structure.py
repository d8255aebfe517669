"""The sandbox's shape, as in moto: the state model and the rules import no web framework,
the rule contract is explicit on the base class, snapshots are data, not code."""

from __future__ import annotations

import json
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from xero_sandbox import persistence, seed
from xero_sandbox.accounting import registry
from xero_sandbox.accounting.base import ResourceRules
from xero_sandbox.state import SandboxState


def test_state_and_rules_import_no_web_framework() -> None:
    code = (
        "import sys\n"
        "import xero_sandbox.state, xero_sandbox.persistence, xero_sandbox.seed\n"
        "import xero_sandbox.accounting.registry\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_every_rule_follows_the_base_contract() -> None:
    for segment, rules in registry.RULES.items():
        assert isinstance(rules, ResourceRules)
        assert segment == (rules.path or rules.name).lower()
        for (method, action), handler in rules.actions.items():
            assert method in ("GET", "PUT", "POST", "DELETE") and action == action.lower()
            assert callable(getattr(type(rules), handler)), f"{rules.name}.{handler}"
        assert "generate" not in vars(type(rules)) or callable(vars(type(rules))["generate"])


def test_snapshot_round_trips_as_plain_json(tmp_path: Path) -> None:
    state = SandboxState()
    seed.seed_demo(state)
    text = persistence.dump(state)
    json.loads(text)  # plain JSON
    restored = SandboxState()
    persistence.restore(restored, text)
    assert {k: o.tables for k, o in restored.orgs.items()} == {
        k: o.tables for k, o in state.orgs.items()
    }
    assert persistence.dump(restored) == text


@pytest.mark.parametrize(
    "document",
    [
        '{"$dataclass": "Popen", "fields": {"args": ["touch", "/tmp/x"]}}',
        '{"format": 1, "orgs": [{"$reduce": "os.system"}], "identity": {}}',
        '{"format": 99, "orgs": [], "identity": {}}',
        "not json",
    ],
)
def test_a_foreign_snapshot_is_refused_not_run(document: str) -> None:
    with pytest.raises(persistence.SnapshotError):
        persistence.restore(SandboxState(), document)


def test_an_old_pickle_snapshot_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE snapshot (id INTEGER PRIMARY KEY, saved_at TEXT, data BLOB)")
        db.execute("INSERT INTO snapshot VALUES (1, 'now', ?)", (pickle.dumps({"x": 1}),))
    assert persistence.SnapshotFile(path).load() is None


def test_rules_return_results_and_only_the_http_layer_picks_status_codes() -> None:
    """No module of the accounting backend builds a response or imports the HTTP side."""
    package = Path(registry.__file__).parent
    for module in sorted(package.glob("*.py")):
        text = module.read_text()
        assert "Outcome" not in text, module.name
        assert "xero_sandbox.responses" not in text and "fastapi" not in text, module.name


def test_one_lifecycle_serves_every_document_kind() -> None:
    from xero_sandbox.accounting.invoices import InvoiceRules
    from xero_sandbox.accounting.lifecycle import PURCHASE_ORDER, QUOTE, ledger_lifecycle

    for cycle in (QUOTE, PURCHASE_ORDER, ledger_lifecycle("Invoice")):
        assert set(cycle.create) <= set(cycle.statuses)
        assert set(cycle.transitions) == set(cycle.statuses)
        assert all(targets <= set(cycle.statuses) for targets in cycle.transitions.values())
        errors: list[str] = []
        final = sorted(cycle.terminal)[0]
        assert cycle.target(final, cycle.create[0], errors) == final
        assert errors == [f"{cycle.label} not of valid status for modification"]
        errors = []
        assert cycle.initial(final, errors) == cycle.create[0] and errors
    assert InvoiceRules().lifecycle.terminal == {"PAID", "VOIDED", "DELETED"}
    assert QUOTE.terminal == {"DECLINED", "INVOICED", "DELETED"}
