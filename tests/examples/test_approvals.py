"""The bill approval's request text and the writes each decision leads to."""

from __future__ import annotations

import pytest

from xero_examples.approvals import approval_request, bill_link, outcome

BILL = {
    "InvoiceID": "5a4d2c1e-0000-4000-8000-000000000001",
    "InvoiceNumber": "",
    "Reference": "PO-77",
    "Contact": {"ContactID": "c1", "Name": "PowerDirect"},
    "Total": 412.5,
    "CurrencyCode": "NZD",
    "DueDate": "/Date(1767225600000+0000)/",
    "Status": "SUBMITTED",
}
BY = {"id": "admin", "name": "admin"}


def test_the_request_shows_contact_total_due_date_and_a_link() -> None:
    request = approval_request(BILL, "!NLglS")
    assert request["subject"] == "Approve bill PO-77 from PowerDirect (NZD 412.5)?"
    for shown in ("PowerDirect", "NZD 412.5", "2026-01-01", bill_link(BILL, "!NLglS")):
        assert shown in request["body"]
    assert "shortcode=!NLglS" in bill_link(BILL, "!NLglS")
    assert bill_link(BILL, "x").endswith("AccountsPayable/Edit.aspx?InvoiceID=" + BILL["InvoiceID"])


def test_approve_authorises_and_names_the_approver() -> None:
    decided = outcome(BILL, {"chosen_options": ["Approve"], "responded_by_user": BY}, "SUBMITTED")
    assert (decided.status, decided.note) == ("AUTHORISED", "Approved in Airflow by admin.")


def test_reject_goes_back_to_draft_with_the_reason() -> None:
    decision = {
        "chosen_options": ["Reject"],
        "params_input": {"reason": "wrong amount"},
        "responded_by_user": BY,
    }
    decided = outcome(BILL, decision, "SUBMITTED")
    assert decided.status == "DRAFT"
    assert decided.note.startswith("Rejected in Airflow by admin: wrong amount. The bill is back")


def test_no_answer_in_time_changes_nothing_but_a_note() -> None:
    decided = outcome(BILL, None, "SUBMITTED")
    assert decided.status is None and "stays SUBMITTED" in decided.note


@pytest.mark.parametrize("now", ["AUTHORISED", "DELETED", None])
def test_a_late_decision_on_a_bill_changed_in_xero_changes_nothing(now) -> None:
    decided = outcome(BILL, {"chosen_options": ["Approve"], "responded_by_user": BY}, now)
    assert decided.status is None and f"became {now}" in decided.note


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="decision: 'Maybe'"):
        outcome(BILL, {"chosen_options": ["Maybe"]}, "SUBMITTED")
