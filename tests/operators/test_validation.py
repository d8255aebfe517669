"""The checks that run before any call: each names the record and the field."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from xero_provider.operators import validation as v


def problems(schema: v.Schema, records: list) -> list[tuple[int, str, str]]:
    return [(p.index, p.field, p.message) for p in v.validate(schema, records, "X")]


@pytest.mark.parametrize(
    "value", [None, float("nan"), np.nan, pd.NaT, pd.NA, np.datetime64("NaT")], ids=repr
)
def test_missing_values_count_as_absent(value) -> None:
    assert v.is_missing(value)
    found = problems(v.CONTACT_CREATE, [{"Name": value}])
    assert found == [(0, "Name", "is required")]


@pytest.mark.parametrize("value", [0, "", "x", [], {}, False, Decimal("0")], ids=repr)
def test_present_values_are_not_missing(value) -> None:
    assert not v.is_missing(value)


def test_every_bad_record_of_a_batch_is_named_at_once() -> None:
    rows = [{"Name": f"C{i}"} for i in range(10)]
    rows[2] = {"Name": "x" * 256}
    rows[5] = {"Name": "ok", "EmailAddress": "no-at-sign", "ContactStatus": "GONE"}
    rows[9] = "not a dict"
    found = problems(v.CONTACT_CREATE, rows)
    assert [(i, f) for i, f, _ in found] == [
        (2, "Name"),
        (5, "EmailAddress"),
        (5, "ContactStatus"),
        (9, "(record)"),
    ]
    assert "at most 255 characters, got 256" in found[0][2]
    assert "ACTIVE, ARCHIVED, GDPRREQUEST" in found[2][2]


@pytest.mark.parametrize(
    ("amount", "ok"),
    [
        (10, True),
        (10.5, True),
        (Decimal("19.99"), True),
        (np.float64(3.2), True),
        (np.int64(4), True),
        ("12.50", True),
        (0, False),
        (-1, False),
        (True, False),
        ("ten", False),
        (math.inf, False),
        ([1], False),
    ],
    ids=repr,
)
def test_amounts(amount, ok) -> None:
    record = {"Invoice": {"InvoiceID": "0" * 8 + "-0000-0000-0000-" + "0" * 12}}
    record.update(Account={"Code": "090"}, Date="2026-01-01", Amount=amount)
    found = problems(v.PAYMENT_CREATE, [record])
    assert (found == []) is ok, found
    if not ok:
        assert found[0][1] == "Amount"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-01-31", True),
        ("2026-01-31T10:00:00", True),
        ("/Date(1518685950940+0000)/", True),
        (date(2026, 1, 31), True),
        (datetime(2026, 1, 31, 9), True),
        (pd.Timestamp("2026-01-31"), True),
        ("2026-02-30", False),
        ("31/01/2026", False),
        ("yesterday", False),
        (20260131, False),
    ],
    ids=repr,
)
def test_dates(value, ok) -> None:
    assert (v.a_date(value) is None) is ok


def test_references_and_guids() -> None:
    found = problems(
        v.BILL_CREATE,
        [
            {"Contact": {"ContactID": "nope"}, "LineItems": [{"Description": "a"}]},
            {"Contact": "PowerDirect", "LineItems": [{"Description": "a"}]},
            {"Contact": {}, "LineItems": [{"Description": "a"}]},
            {"Contact": {"Name": "PowerDirect"}, "LineItems": []},
            {"Contact": {"Name": "P"}, "LineItems": [{"Quantity": "two"}]},
        ],
    )
    by_index = {i: (f, m) for i, f, m in found}
    assert "must be a GUID" in by_index[0][1] and by_index[0][0] == "Contact"
    assert by_index[1] == ("Contact", "must be an object with ContactID or Name or ContactNumber")
    assert by_index[2][1] == "needs ContactID or Name or ContactNumber"
    assert by_index[3] == ("LineItems", "must be a non-empty list of line items")
    fields = [f for i, f, _ in found if i == 4 and f != "Type"]
    assert fields == ["LineItems[0]", "LineItems[0].Quantity"]
    assert ("Type", "is required") in [(f, m) for _, f, m in found]


def test_enums_of_each_document() -> None:
    ok = {"Contact": {"Name": "A"}, "LineItems": [{"Description": "a"}]}
    assert problems(v.BILL_CREATE, [{**ok, "Type": "ACCPAY", "Status": "PAID"}])[0][1] == "Status"
    assert problems(v.BILL_CREATE, [{**ok, "Type": "ACCREC"}])[0][1] == "Type"
    assert problems(v.CREDIT_NOTE_CREATE, [{**ok, "Type": "ACCRECCREDIT"}]) == []
    kinds = v.BANK_TRANSACTION_TYPES
    base = {"Contact": {"Name": "A"}, "BankAccount": {"Code": "090"}, **ok}
    assert all(problems(v.BANK_TRANSACTION_CREATE, [{**base, "Type": k}]) == [] for k in kinds)
    assert (
        problems(v.BANK_TRANSACTION_CREATE, [{**base, "Type": "RECEIVE-TRANSFER"}])[0][1] == "Type"
    )


def test_bank_transfer_needs_two_accounts_and_a_positive_amount() -> None:
    found = problems(
        v.BANK_TRANSFER_CREATE,
        [{"FromBankAccount": {"Code": "090"}, "ToBankAccount": {"Code": "090"}, "Amount": -5}],
    )
    assert [f for _, f, _ in found] == ["Amount", "ToBankAccount"]


def test_payment_names_one_document() -> None:
    guid = "11111111-2222-3333-4444-555555555555"
    base = {"Account": {"Code": "090"}, "Date": "2026-01-01", "Amount": 1}
    assert problems(v.PAYMENT_CREATE, [base])[0][1] == "Invoice or CreditNote"
    both = {**base, "Invoice": {"InvoiceID": guid}, "CreditNote": {"CreditNoteID": guid}}
    assert problems(v.PAYMENT_CREATE, [both])[0][1] == "Invoice"


def test_history_note_length() -> None:
    schema = v.history_note("InvoiceID")
    guid = "11111111-2222-3333-4444-555555555555"
    assert problems(schema, [{"InvoiceID": guid, "Details": "x" * 2500}]) == []
    found = problems(schema, [{"InvoiceID": guid, "Details": "x" * 2501}])
    assert found == [(0, "Details", "must be at most 2500 characters, got 2501")]


def test_quote_status_rule_uses_what_xero_holds() -> None:
    guid = "11111111-2222-3333-4444-555555555555"
    current = {guid: {"QuoteID": guid, "Status": "SENT"}}
    found = v.editable_status_problems(
        [{"QuoteID": guid.upper()}, {"QuoteID": guid}],
        {k.lower(): r for k, r in current.items()},
        id_field="QuoteID",
        status_field="Status",
        editable=("DRAFT",),
        kind="quote",
    )
    assert [(p.index, p.field) for p in found] == [(0, "Status"), (1, "Status")]


def test_payment_rule_amount_due_and_status() -> None:
    guid = "11111111-2222-3333-4444-555555555555"
    invoices = {guid: {"InvoiceID": guid, "Status": "AUTHORISED", "AmountDue": 100.0}}
    rows = [
        {"Invoice": {"InvoiceID": guid}, "Amount": 100},
        {"Invoice": {"InvoiceID": guid}, "Amount": "100.01"},
        {"Invoice": {"InvoiceNumber": "INV-1", "AmountDue": 5}, "Amount": 6},  # given in input
    ]
    found = v.payment_problems(rows, invoices)
    assert [(p.index, p.field) for p in found] == [(1, "Amount"), (2, "Amount")]
    paid = {guid: {"InvoiceID": guid, "Status": "PAID", "AmountDue": 0}}
    assert v.payment_problems(rows[:1], paid)[0].field == "Invoice"


def test_codes_written_as_text() -> None:
    record = {"LineItems": [{"AccountCode": 200, "Quantity": 2}], "Account": {"Code": 90}}
    out = v.codes_as_text({**record, "InvoiceNumber": np.int64(7), "IsReconciled": True})
    assert out["LineItems"][0] == {"AccountCode": "200", "Quantity": 2}
    assert out["Account"] == {"Code": "90"} and out["InvoiceNumber"] == "7"
    assert out["IsReconciled"] is True
    assert record["LineItems"][0]["AccountCode"] == 200  # the input is not changed


def test_a_value_the_hook_cannot_write_names_its_record_and_field() -> None:
    from datetime import time

    from xero_provider.operators import XeroCreateBillOperator

    operator = XeroCreateBillOperator(task_id="t", records=[])
    line = {"Description": "a", "UnitAmount": 1}
    rows = [
        {"Type": "ACCPAY", "Contact": {"Name": "A"}, "LineItems": [line]},
        {"Type": "ACCPAY", "Contact": {"Name": "A"}, "LineItems": [line], "Url": time(9, 30)},
        {"Type": "ACCPAY", "Contact": {"Name": "A"}, "LineItems": [{**line, "Tracking": object()}]},
    ]
    found = [(p.index, p.field) for p in operator.validate_rows(rows)]
    assert found == [(1, "Url"), (2, "LineItems[0].Tracking")]


INV = "11111111-2222-3333-4444-555555555555"
NOTE = "66666666-7777-8888-9999-000000000000"


def test_payments_are_summed_per_invoice_across_the_batch() -> None:
    invoices = {INV: {"InvoiceID": INV, "Status": "AUTHORISED", "AmountDue": 115}}
    pay = {"Invoice": {"InvoiceID": INV}, "Amount": 100}
    found = v.payment_problems(
        [pay, {**pay, "Amount": 10}, dict(pay), {**pay, "Amount": 5}], invoices
    )
    # 100 + 10 fit, the third 100 would make 210, the last 5 makes exactly 115
    assert [(p.index, p.field) for p in found] == [(2, "Amount")]
    assert "records[0] (100), records[1] (10)" in found[0].message
    assert "makes 210, more than the 115 due" in found[0].message


def test_allocations_are_summed_per_credit_note_and_per_invoice() -> None:
    notes = {NOTE: {"CreditNoteID": NOTE, "Status": "AUTHORISED", "RemainingCredit": 50}}
    invoices = {INV: {"InvoiceID": INV, "AmountDue": 40}}
    row = {"CreditNoteID": NOTE, "Invoice": {"InvoiceID": INV}, "Amount": 30}
    found = v.allocation_problems([row, {**row, "Amount": 15}], notes, invoices)
    assert [(p.index, p.field) for p in found] == [(1, "Amount")]
    assert "more than the 40 due on invoice" in found[0].message  # 45 > 40 due; credit 50 ok
    other = "99999999-2222-3333-4444-555555555555"
    found = v.allocation_problems(
        [row, {**row, "Amount": 25, "Invoice": {"InvoiceID": other}}],
        notes,
        {**invoices, other: {"AmountDue": 100}},
    )
    assert [(p.index, p.field) for p in found] == [(1, "Amount")]
    assert "credit left on credit note" in found[0].message  # 55 > 50 of credit
    drafted = {NOTE: {**notes[NOTE], "Status": "DRAFT"}}
    assert v.allocation_problems([row], drafted, invoices)[0].field == "CreditNoteID"


def test_a_payment_deleted_twice_in_one_batch_is_refused() -> None:
    from xero_provider.operators import XeroDeletePaymentOperator

    op = XeroDeletePaymentOperator(task_id="d", record_ids=[INV, INV.upper(), NOTE])
    found = op.validate_rows(op.input_rows())
    assert [(p.index, p.field) for p in found] == [(1, "PaymentID")]
    assert "records[0] already deletes" in found[0].message
