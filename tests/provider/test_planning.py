"""Pure planning: filters Xero supports per resource, paging decisions, chunking, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from xero_provider.hooks.planning import (
    ListPlan,
    chunk_results,
    normalise_records,
    plan_writes,
)
from xero_provider.resources import MAX_PAGE_SIZE, get_resource


def test_full_paging_uses_the_largest_page() -> None:
    plan = ListPlan.build(get_resource("Contacts"))
    assert plan.page_params(3) == {"page": "3", "pageSize": str(MAX_PAGE_SIZE)}


def test_page_size_is_capped_but_may_be_smaller() -> None:
    assert ListPlan.build(get_resource("Invoices"), page_size=5000).page_size == 1000
    assert ListPlan.build(get_resource("Invoices"), page_size=10).page_size == 10


def test_quotes_page_without_page_size() -> None:
    plan = ListPlan.build(get_resource("Quotes"), page_size=500)
    assert plan.page_params(1) == {"page": "1"}
    assert plan.page_size == 100


def test_bank_transfers_do_not_page() -> None:
    plan = ListPlan.build(get_resource("BankTransfers"))
    assert plan.page_params(1) == {}
    assert plan.is_last_page(1, {"BankTransfers": [{}] * 5000}, [{}] * 5000)


@pytest.mark.parametrize(
    ("resource", "statuses", "expected"),
    [
        ("Invoices", ["paid", "authorised"], {"Statuses": "PAID,AUTHORISED"}),
        ("Quotes", ["DRAFT"], {"Status": "DRAFT"}),
        ("Payments", ["AUTHORISED"], {"where": 'Status=="AUTHORISED"'}),
    ],
    ids=["dedicated-param", "single-status-param", "where-clause"],
)
def test_statuses_use_the_best_filter(resource, statuses, expected) -> None:
    assert ListPlan.build(get_resource(resource), statuses=statuses).params == expected


def test_quotes_refuse_several_statuses() -> None:
    with pytest.raises(ValueError, match="statuses: Quotes"):
        ListPlan.build(get_resource("Quotes"), statuses=["DRAFT", "SENT"])


def test_typed_view_ands_its_type_with_the_callers_where() -> None:
    plan = ListPlan.build(get_resource("Bills"), where='Status=="PAID"')
    assert plan.params["where"] == '(Type=="ACCPAY") AND (Status=="PAID")'


def test_ids_become_guid_clauses_where_no_ids_param() -> None:
    a, b = "0b9c5f0e-1111-4a4a-9b9b-000000000001", "0B9C5F0E-1111-4A4A-9B9B-000000000002"
    plan = ListPlan.build(get_resource("Payments"), ids=[a, b])
    assert plan.params["where"] == f'PaymentID==Guid("{a}") OR PaymentID==Guid("{b.lower()}")'


def test_modified_since_is_sent_as_utc() -> None:
    from datetime import timedelta, timezone

    local = datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=13)))
    plan = ListPlan.build(get_resource("Contacts"), modified_since=local)
    assert plan.headers == {"If-Modified-Since": "2026-01-01T00:00:00"}


def test_pagination_page_count_ends_paging_without_an_empty_page() -> None:
    plan = ListPlan.build(get_resource("Contacts"))
    body = {"pagination": {"page": 2, "pageCount": 2}, "Contacts": [{}] * 1000}
    assert plan.is_last_page(2, body, body["Contacts"])
    assert not plan.is_last_page(1, {**body, "pagination": {"pageCount": 2}}, body["Contacts"])


def test_normalise_records_from_a_dataframe_drops_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "Name": ["A", "B"],
            "Amount": [1.5, float("nan")],
            "Date": pd.to_datetime(["2026-01-02", "2026-02-03"]),
        }
    )
    assert normalise_records(frame) == [
        {"Name": "A", "Amount": 1.5, "Date": "2026-01-02"},
        {"Name": "B", "Date": "2026-02-03"},
    ]


@pytest.mark.parametrize("bad", ["text", 42, [1, 2]], ids=["string", "number", "list-of-ints"])
def test_normalise_records_refuses_what_is_not_records(bad) -> None:
    with pytest.raises(TypeError):
        normalise_records(bad)


def test_keys_are_deterministic_with_a_caller_key_and_random_without() -> None:
    contacts = get_resource("Contacts")
    rows = [{"Name": str(i)} for i in range(120)]
    a = plan_writes(contacts, rows, method="PUT", tenant_id="t", idempotency_key="k")
    b = plan_writes(contacts, rows, method="PUT", tenant_id="t", idempotency_key="k")
    c = plan_writes(contacts, rows, method="PUT", tenant_id="t", idempotency_key=None)
    assert [len(x.records) for x in a] == [50, 50, 20]
    assert [x.idempotency_key for x in a] == [x.idempotency_key for x in b]
    assert all(len(x.idempotency_key) <= 128 for x in a)
    assert {x.idempotency_key for x in a}.isdisjoint({x.idempotency_key for x in c})
    assert all(x.ledger_key is None for x in c)


def test_chunk_results_map_back_to_input_positions() -> None:
    contacts = get_resource("Contacts")
    chunk = plan_writes(
        contacts,
        [{"Name": str(i)} for i in range(60)],
        method="PUT",
        tenant_id=None,
        idempotency_key=None,
    )[1]
    body = {
        "Contacts": [{"ContactID": f"id-{i}", "StatusAttributeString": "OK"} for i in range(9)]
        + [{"Name": "", "StatusAttributeString": "ERROR", "ValidationErrors": [{"Message": "bad"}]}]
    }
    results = chunk_results(contacts, chunk, body)
    assert [r.index for r in results] == list(range(50, 60))
    assert results[9].ok is False and results[9].errors == ["bad"]
    assert results[0].record_id == "id-0"


def test_datetimes_in_records_become_iso_strings() -> None:
    rows = normalise_records([{"When": datetime(2026, 5, 1, 9, 30, tzinfo=UTC)}])
    assert rows == [{"When": "2026-05-01T09:30:00"}]  # Xero's form: UTC, no offset
