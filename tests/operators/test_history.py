"""A history note through dag.test() on a record of every resource with history."""

from __future__ import annotations

import pytest

from tests.operators.conftest import records
from xero_provider.resources import RESOURCES, get_resource

pytestmark = pytest.mark.slow

# The resources with history when this test was written; rows added later are covered
# too as soon as the sandbox's demo data holds one of their records.
KNOWN = {
    "Contacts",
    "Invoices",
    "Bills",
    "SalesInvoices",
    "CreditNotes",
    "Payments",
    "BankTransactions",
    "BankTransfers",
    "Quotes",
    "PurchaseOrders",
    "Items",
}


def test_a_note_on_every_resource_with_history(run_dag, xero_ops) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from xero_provider.hooks import XeroHook

    conf = {}
    for spec in RESOURCES.values():
        if not spec.history:
            continue
        try:
            rows = records(xero_ops, spec.path)
        except Exception:  # the sandbox does not serve this resource's state
            continue
        if spec.type_filter:
            rows = [r for r in rows if r.get("Type") == spec.type_filter]
        if rows:
            conf[spec.name] = rows[0][spec.id_field]
    assert set(conf) >= KNOWN
    run = run_dag("xero_ops_history", conf)

    with create_session() as session:
        mapped = (
            session.query(TaskInstance)
            .filter_by(dag_id="xero_ops_history", run_id=run.dag_run.run_id, task_id="note")
            .all()
        )
        states = sorted((ti.map_index, str(ti.state)) for ti in mapped)
    assert states == [(i, "success") for i in range(len(conf))]
    hook = XeroHook("xero_ops")
    for name, record_id in conf.items():
        spec = get_resource(name)
        notes = hook.call("GET", f"{spec.path}/{record_id}/History")["HistoryRecords"]
        assert any(n.get("Details") == f"Checked by the {name} DAG" for n in notes), name
