"""Inputs, deep links, keys and hostile values, without a DAG run."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from xero_provider.hooks.actions import action_path, plan_actions
from xero_provider.operators import (
    XeroAddHistoryNoteOperator,
    XeroCreateContactOperator,
    XeroFindSalesInvoiceOperator,
    XeroUpsertContactOperator,
)
from xero_provider.operators.inputs import as_rows, ids_as_rows
from xero_provider.operators.links import deep_link
from xero_provider.resources import get_resource

GUID = "11111111-2222-3333-4444-555555555555"


def test_rows_from_each_kind_of_input() -> None:
    assert as_rows({"Name": "A"}) == [{"Name": "A"}]
    assert as_rows([{"Name": "A"}, {"Name": "B"}]) == [{"Name": "A"}, {"Name": "B"}]
    assert as_rows(json.dumps([{"Name": "A"}])) == [{"Name": "A"}]
    assert as_rows(r for r in [{"Name": "A"}]) == [{"Name": "A"}]  # a lazy XCom sequence
    frame = pd.DataFrame({"Name": ["A"], "Contact.ContactID": [GUID], "Contact.Name": ["X"]})
    assert as_rows(frame) == [{"Name": "A", "Contact": {"ContactID": GUID, "Name": "X"}}]


@pytest.mark.parametrize("bad", [None, 42, "not json {", 3.5], ids=repr)
def test_rows_refuse_what_is_not_records(bad) -> None:
    with pytest.raises((TypeError, ValueError), match="records"):
        as_rows(bad)


def test_ids_as_rows() -> None:
    assert ids_as_rows(f"{GUID}, {GUID}", "InvoiceID", name="ids") == [{"InvoiceID": GUID}] * 2
    assert ids_as_rows(f'["{GUID}"]', "InvoiceID", name="ids") == [{"InvoiceID": GUID}]
    with pytest.raises(TypeError, match="ids"):
        ids_as_rows({"a": 1}, "InvoiceID", name="ids")


@pytest.mark.parametrize(
    "record_id", ["../Contacts", "a/b", "x?where=1", "", "a b", "%2e%2e", None], ids=repr
)
def test_per_record_paths_refuse_injection(record_id) -> None:
    with pytest.raises(ValueError, match="path segment"):
        action_path(get_resource("Payments"), record_id, None)


def test_per_record_keys_are_deterministic_and_short() -> None:
    spec = get_resource("Invoices")
    items = [(GUID, {}), (GUID, {})]
    first = plan_actions(
        spec, items, method="POST", action="Email", tenant_id="t", idempotency_key="k"
    )
    again = plan_actions(
        spec, items, method="POST", action="Email", tenant_id="t", idempotency_key="k"
    )
    assert [c.chunk.idempotency_key for c in first] == [c.chunk.idempotency_key for c in again]
    assert len({c.chunk.idempotency_key for c in first}) == 2
    assert all(len(c.chunk.idempotency_key) <= 128 for c in first)  # Xero's maximum
    assert first[0].path == f"Invoices/{GUID}/Email"


def test_run_key_leaves_the_try_number_out() -> None:
    operator = XeroCreateContactOperator(task_id="t", records={"Name": "A"})
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=3, try_number=1)
    key = operator.run_key({"ti": ti})
    ti.try_number = 2
    assert operator.run_key({"ti": ti}) == key == "d:t:r:3"
    assert (
        XeroCreateContactOperator(task_id="u", records={}, idempotency_key="").run_key({"ti": ti})
        is None
    )


def test_deep_links_follow_xero_documented_shapes() -> None:
    login = "https://go.xero.com/organisationlogin/default.aspx?shortcode=!Ab1&redirecturl="
    assert deep_link("Contacts", "!Ab1", GUID) == f"{login}/Contacts/View/{GUID}"
    assert deep_link("Invoices", "!Ab1", GUID, {"Type": "ACCPAY"}).endswith(
        f"/AccountsPayable/Edit.aspx?InvoiceID={GUID}"
    )
    assert deep_link("SalesInvoices", "!Ab1", GUID) == (
        f"{login}/AccountsReceivable/View.aspx?InvoiceID={GUID}"
    )
    assert deep_link("PurchaseOrders", "!Ab1", GUID).endswith(
        f"/Accounts/Payable/PurchaseOrders/View/{GUID}/"
    )
    assert deep_link("BankTransfers", "!Ab1", GUID, {"FromBankTransactionID": "F"}).endswith(
        "/Bank/ViewTransaction.aspx?bankTransactionID=F"
    )
    assert deep_link("Quotes", "!Ab1", GUID) == f"https://go.xero.com/app/!Ab1/quotes/view/{GUID}"
    assert deep_link("Items", "!Ab1", GUID) is None
    assert deep_link("Contacts", None, GUID) is None
    hostile = deep_link("Contacts", "!a&redirecturl=//evil", GUID)
    assert "&redirecturl=//evil" not in hostile


def test_constructor_refusals() -> None:
    with pytest.raises(ValueError, match="on_error"):
        XeroCreateContactOperator(task_id="a", records={}, on_error="ignore")
    with pytest.raises(ValueError, match="no history"):
        XeroAddHistoryNoteOperator(task_id="b", resource="Accounts", record_ids=GUID, note="n")
    with pytest.raises(ValueError, match="match_on"):
        XeroUpsertContactOperator(task_id="c", records={}, match_on=("Phone",))
    with pytest.raises(ValueError, match="unknown Xero resource"):
        XeroAddHistoryNoteOperator(task_id="d", resource="Nope", record_ids=GUID, note="n")


def test_find_refuses_quotes_in_searched_values() -> None:
    operator = XeroFindSalesInvoiceOperator(task_id="f", numbers='INV-1" OR Status!="X')
    rows = operator.input_rows()
    found = operator.validate_rows(rows)
    assert [(p.index, p.field) for p in found] == [(0, "InvoiceNumber")]
    assert "quotes" in found[0].message


def test_templated_fields_are_declared() -> None:
    assert {"records", "tenant_id", "idempotency_key"} <= set(
        XeroCreateContactOperator.template_fields
    )
    assert {"numbers", "references", "where", "record_ids"} <= set(
        XeroFindSalesInvoiceOperator.template_fields
    )
    assert {"record_ids", "note"} <= set(XeroAddHistoryNoteOperator.template_fields)


def test_the_extra_link_is_registered_with_airflow() -> None:
    import importlib

    from airflow.providers_manager import ProvidersManager
    from airflow.sdk import BaseOperatorLink

    from xero_provider.get_provider_info import get_provider_info

    info = get_provider_info()
    for path in info["extra-links"]:
        module, name = path.rsplit(".", 1)
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink)
    for group in info["operators"]:
        for module in group["python-modules"]:
            importlib.import_module(module)
    assert (
        "xero_provider.operators.links.XeroRecordLink" in ProvidersManager().extra_links_class_names
    )


def test_an_unrecorded_call_is_resent_only_while_xero_replays_its_key() -> None:
    from datetime import UTC, datetime, timedelta

    from xero_provider.hooks.actions import replay_is_safe, unreconciled_result

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert replay_is_safe(now - timedelta(seconds=30), now)
    assert not replay_is_safe(now - timedelta(minutes=10), now)
    call = plan_actions(
        get_resource("Invoices"),
        [(GUID, {})],
        method="POST",
        action="Email",
        tenant_id="t",
        idempotency_key="k",
    )[0]
    result = unreconciled_result(call)
    assert not result.ok and result.status == "UNRECONCILED" and GUID in result.errors[0]


def test_write_operators_refuse_read_only_resources(monkeypatch) -> None:
    import dataclasses

    from xero_provider import resources
    from xero_provider.operators import XeroCreateOperator, XeroGetOperator

    row = resources.RESOURCES["taxrates"]
    fake = dataclasses.make_dataclass(
        "ReadOnly", [("read_only", bool, True)], bases=(type(row),), frozen=True
    )
    read_only = fake(**{f.name: getattr(row, f.name) for f in dataclasses.fields(row)})
    monkeypatch.setitem(resources.RESOURCES, "taxrates", read_only)
    with pytest.raises(ValueError, match="no write endpoint"):
        XeroCreateOperator(task_id="w", resource="TaxRates", records={})
    XeroGetOperator(task_id="r", resource="TaxRates", record_ids="OUTPUT2")  # reading is fine
