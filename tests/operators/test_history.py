"""A history note through dag.test() on a record of every resource with history."""

from __future__ import annotations

import pytest

from tests.operators.conftest import records
from xero_provider.resources import RESOURCES, get_resource

pytestmark = pytest.mark.slow


def test_a_note_on_every_resource_with_history(run_dag, xero_ops) -> None:
    from xero_provider.hooks import XeroHook

    conf = {}
    for spec in RESOURCES.values():
        if not spec.history:
            continue
        rows = records(xero_ops, spec.path)
        if spec.type_filter:
            rows = [r for r in rows if r.get("Type") == spec.type_filter]
        assert rows, spec.name
        conf[spec.name] = rows[0][spec.id_field]
    run = run_dag("xero_ops_history", conf)

    hook = XeroHook("xero_ops")
    for name, record_id in conf.items():
        assert run.state(f"note_{name}") == "success", (name, run.xcom(f"note_{name}", "rejected"))
        assert run.xcom(f"note_{name}") == [record_id]
        spec = get_resource(name)
        notes = hook.call("GET", f"{spec.path}/{record_id}/History")["HistoryRecords"]
        assert any(n.get("Details") == f"Checked by the {name} DAG" for n in notes), name
