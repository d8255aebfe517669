"""A write of several elements in one request (two allocations of one credit note): one
outcome per element, so an element Xero applied is never hidden behind one exception."""

from __future__ import annotations

import uuid

import pytest

from tests.provider.connections import xero_connection
from xero_provider.exceptions import XeroPartialWriteError, XeroValidationError
from xero_provider.hooks import XeroHook


@pytest.fixture
def hook(sandbox, monkeypatch, tmp_path) -> XeroHook:
    sandbox.control("PUT", "/limits", json={"enabled": False})
    return XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db"))


def _credit_and_bill(hook: XeroHook, credit: float, bill: float) -> tuple[str, str]:
    contact = hook.create("Contacts", {"Name": f"Elements {uuid.uuid4().hex[:8]}"})[0].record_id

    def document(type_: str, amount: float) -> dict:
        return {
            "Type": type_,
            "Contact": {"ContactID": contact},
            "Date": "2026-11-02",
            "DueDate": "2026-11-30",
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "LineItems": [
                {"Description": "x", "Quantity": 1, "UnitAmount": amount, "AccountCode": "429"}
            ],
        }

    (note,) = hook.create("CreditNotes", document("ACCPAYCREDIT", credit))
    (invoice,) = hook.create("Invoices", document("ACCPAY", bill))
    assert note.ok and invoice.ok, (note.errors, invoice.errors)
    return note.record_id, invoice.record_id


def _allocations(invoice_id: str, *amounts: float) -> list[dict]:
    return [
        {"Invoice": {"InvoiceID": invoice_id}, "Amount": a, "Date": "2026-11-05"} for a in amounts
    ]


def test_call_with_two_allocations_says_which_was_applied(hook, sandbox) -> None:
    note, bill = _credit_and_bill(hook, 50, 100)
    with pytest.raises(XeroPartialWriteError) as caught:
        hook.call(
            "PUT",
            f"CreditNotes/{note}/Allocations",
            json={"Allocations": _allocations(bill, 30, 40)},
        )
    error = caught.value
    assert isinstance(error, XeroValidationError)  # what callers already catch
    assert [r.ok for r in error.results] == [True, False]
    assert error.record_index == 1 and "applied: elements [0]" in str(error)
    assert "remaining credit" in str(error)
    assert float(hook.get("CreditNotes", note)["RemainingCredit"]) == 20


def test_write_each_returns_one_result_per_element(hook) -> None:
    note, bill = _credit_and_bill(hook, 50, 100)
    results = hook.write_each(
        "PUT",
        f"CreditNotes/{note}/Allocations",
        _allocations(bill, 30, 40),
        list_key="Allocations",
    )
    assert [r.index for r in results] == [0, 1]
    assert results[0].ok and results[0].record["Amount"] == 30
    assert not results[1].ok and "credit" in " ".join(results[1].errors).lower()
    assert float(hook.get("CreditNotes", note)["RemainingCredit"]) == 20
