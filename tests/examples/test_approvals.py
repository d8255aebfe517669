"""The bill approval's request text and the writes each decision leads to."""

from __future__ import annotations

import pytest

from xero_examples.approvals import TIMED_OUT, approval_request, bill_link, outcome

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
    decided = outcome(BILL, TIMED_OUT, "SUBMITTED")
    assert decided.status is None and "stays SUBMITTED" in decided.note
    assert not decided.undecided


def test_a_decide_step_that_failed_writes_nothing_and_leaves_the_bill_to_ask_again() -> None:
    """Issue 24: a failed step (no value) is not "no answer in time": no note."""
    decided = outcome(BILL, None, "SUBMITTED")
    assert (decided.status, decided.note, decided.undecided) == (None, None, True)


@pytest.mark.parametrize(
    ("option", "now", "note"),
    [
        ("Approve", "AUTHORISED", "Approved in Airflow by admin."),
        ("Reject", "DRAFT", "Rejected in Airflow by admin: wrong amount. The bill is back"),
    ],
)
def test_a_retry_after_the_status_was_written_plans_the_same_note_and_no_write(
    option, now, note
) -> None:
    """The status an earlier try of the run wrote: the same note as that try, no status."""
    decision = {
        "chosen_options": [option],
        "params_input": {"reason": "wrong amount"},
        "responded_by_user": BY,
    }
    first = outcome(BILL, decision, "SUBMITTED")
    again = outcome(BILL, decision, now)
    assert first.status == now and again.status is None
    assert again.note == first.note and again.note.startswith(note)


@pytest.mark.parametrize("now", ["DELETED", "VOIDED", None])
def test_a_late_decision_on_a_bill_changed_in_xero_changes_nothing(now) -> None:
    decided = outcome(BILL, {"chosen_options": ["Approve"], "responded_by_user": BY}, now)
    assert decided.status is None and f"became {now}" in decided.note


def test_a_rejection_of_a_bill_approved_in_xero_meanwhile_changes_nothing() -> None:
    decision = {"chosen_options": ["Reject"], "responded_by_user": BY}
    decided = outcome(BILL, decision, "AUTHORISED")
    assert decided.status is None and "became AUTHORISED" in decided.note


def test_the_approval_step_turns_only_the_response_timeout_into_a_value() -> None:
    """Airflow's timeout event (no defaults) becomes TIMED_OUT, a success; an answer is
    HITLOperator's; any other error still fails the step (and so is retried)."""
    from datetime import datetime, timedelta

    from airflow.providers.standard.exceptions import HITLTriggerEventError

    from xero_examples.approval_step import ApprovalStep
    from xero_examples.approvals import OPTIONS

    step = ApprovalStep(
        task_id="decide", subject="s", options=OPTIONS, response_timeout=timedelta(hours=24)
    )
    timeout = {"error": "The response timeout has passed", "error_type": "timeout"}
    assert step.execute_complete({}, timeout) == TIMED_OUT
    answered = {
        "chosen_options": ["Approve"],
        "params_input": {},
        "responded_at": datetime(2026, 12, 7),
        "responded_by_user": BY,
    }
    assert step.execute_complete({}, answered)["chosen_options"] == ["Approve"]
    with pytest.raises(HITLTriggerEventError):
        step.execute_complete({}, {"error": "boom", "error_type": "unknown"})


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="decision: 'Maybe'"):
        outcome(BILL, {"chosen_options": ["Maybe"]}, "SUBMITTED")
