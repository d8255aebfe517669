"""What a data engineer passes: XCom lists, mapped tasks, DataFrames (through dag.test())."""

from __future__ import annotations

import uuid

import pytest

from tests.operators.conftest import records

pytestmark = pytest.mark.slow


def test_xcom_lists_mapped_tasks_and_dataframes(run_dag, xero_ops) -> None:
    # not all hex digits: the DAG renders native objects, and "0161e8" came back 16100000000.0
    tag = "t" + uuid.uuid4().hex[:6]
    run = run_dag("xero_ops_inputs", {"tag": tag})
    names = {c["Name"] for c in records(xero_ops, "Contacts")}

    assert run.state("contacts_from_xcom") == "success"
    assert {f"From XCom {tag} {i}" for i in range(3)} <= names
    # each mapped task has its own map index, hence its own keys: nothing is skipped
    assert {"Mapped A", "Mapped B", "Mapped C"} <= names

    # NaN/NaT/None are left out, numpy and Decimal numbers written as numbers
    assert run.state("bills_from_frame") == "success", run.xcom("bills_from_frame", "rejected")
    bills = {b["InvoiceNumber"]: b for b in run.xcom("bills_from_frame", "records")}
    assert set(bills) == {"FRAME-1", "FRAME-2", "FRAME-3"}
    assert float(bills["FRAME-1"]["LineItems"][0]["UnitAmount"]) == 10.5
    assert float(bills["FRAME-2"]["LineItems"][0]["UnitAmount"]) == 19.99
    assert bills["FRAME-2"].get("Reference", "") == ""

    assert run.state("edited_frame_written_back") == "success", run.xcom(
        "edited_frame_written_back", "rejected"
    )
    drafts = [
        b for b in records(xero_ops, "Invoices") if b["Type"] == "ACCPAY" and b["Status"] == "DRAFT"
    ]
    assert drafts and all(b["Reference"] == "edited in pandas" for b in drafts)
