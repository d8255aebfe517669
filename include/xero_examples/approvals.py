"""The bill approval's words and rules, free of I/O so they can be tested alone.

A SUBMITTED bill ("awaiting approval" in Xero) is put to a person in Airflow's
human-in-the-loop UI; their answer becomes a status change and a history note in Xero.
Xero lets a SUBMITTED bill become AUTHORISED (approved), go back to DRAFT or be DELETED
(developer.xero.com/documentation/api/accounting/invoices, status codes; the sandbox's
``accounting/lifecycle.py`` has the same transitions), so:

* approve: the bill becomes AUTHORISED, with a note naming the approver;
* reject: the bill goes back to DRAFT (the supplier's bill is kept for correction, not
  deleted), with a note giving the reason and what Xero allows next;
* no answer within the response time: nothing changes in Xero except a note; the bill
  stays SUBMITTED, so it can still be approved in Xero;
* no decision at all (the request's task failed before an answer reached it, or after:
  a killed worker, Airflow's executor-event race): nothing is written, and the person is
  asked again (the DAG's docstring says how). Only the real response timeout, which the
  approval step turns into :data:`TIMED_OUT`, leads to the "no decision" note (issue 24).

A decision is written once however often the writing task runs: when the bill already
has the status the decision leads to (an earlier try of the same run wrote it), the same
note is planned and no status change, so a retry or a cleared task plans exactly what the
first try did and the write ledger replays it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from xero_examples.warehouse import parse_xero_date

APPROVE, REJECT = "Approve", "Reject"
OPTIONS = [APPROVE, REJECT]
NOTE_LIMIT = 2500  # Xero's longest history note
DEEP_LINK = (
    "https://go.xero.com/organisationlogin/default.aspx?shortcode={short_code}"
    "&redirecturl=/AccountsPayable/Edit.aspx?InvoiceID={invoice_id}"
)  # developer.xero.com/documentation/api-guides/deep-link-xero ("View a bill")


def bill_link(bill: Mapping[str, Any], short_code: str | None) -> str:
    """A deep link to the bill in its organisation (the ShortCode comes from /Organisation)."""
    return DEEP_LINK.format(short_code=short_code or "", invoice_id=bill["InvoiceID"])


def approval_request(bill: Mapping[str, Any], short_code: str | None) -> dict[str, str]:
    """The subject and body a person sees: contact, total, due date, a link to the bill."""
    contact = (bill.get("Contact") or {}).get("Name") or "(no contact)"
    number = bill.get("InvoiceNumber") or bill.get("Reference") or bill["InvoiceID"][:8]
    total = f"{bill.get('CurrencyCode') or ''} {bill.get('Total')}".strip()
    due = parse_xero_date(bill.get("DueDate"))
    body = "\n".join(
        [
            f"**Contact:** {contact}",
            f"**Total:** {total}",
            f"**Due date:** {due.isoformat() if due else 'none'}",
            f"**Reference:** {bill.get('Reference') or '-'}",
            f"**In Xero:** [{number}]({bill_link(bill, short_code)})",
            "",
            "Approve to make the bill AUTHORISED in Xero. Reject (give a reason) to send it",
            "back to DRAFT for correction.",
        ]
    )
    return {"subject": f"Approve bill {number} from {contact} ({total})?", "body": body}


# What the approval step returns when the response time passed without an answer (a
# value, not a failure: the task succeeds and is not retried, so only a real timeout looks
# like this; a failed step leaves no value at all).
TIMED_OUT: dict[str, Any] = {"timed_out": True}
TARGET = {APPROVE: "AUTHORISED", REJECT: "DRAFT"}  # the status each decision leads to


def timed_out(decision: Mapping[str, Any] | None) -> bool:
    return bool(decision) and bool(decision.get("timed_out"))


@dataclass(frozen=True)
class Outcome:
    """What to write to Xero for one bill: a new status (or none) and a history note (or
    none: no decision was recorded, the bill is left for the person to be asked again)."""

    invoice_id: str
    status: str | None
    note: str | None

    @property
    def undecided(self) -> bool:
        return self.status is None and self.note is None


def _who(decision: Mapping[str, Any]) -> str:
    user = decision.get("responded_by_user") or {}
    return str(user.get("name") or user.get("id") or "an unknown user")


def outcome(
    bill: Mapping[str, Any], decision: Mapping[str, Any] | None, current_status: str | None
) -> Outcome:
    """The writes for a bill given the person's decision: the approval step's value,
    :data:`TIMED_OUT` (no answer within the response time), or None (no value: the step
    failed, and nothing is written)."""
    invoice_id = bill["InvoiceID"]
    if decision is None:
        return Outcome(invoice_id, None, None)
    if timed_out(decision):
        return Outcome(
            invoice_id,
            None,
            "No approval decision in Airflow within the response time; the bill stays "
            "SUBMITTED (awaiting approval) and can still be approved in Xero.",
        )
    chosen = (decision.get("chosen_options") or [None])[0]
    who = _who(decision)
    if chosen in TARGET and current_status == TARGET[chosen]:
        # already where the decision leads (this run's earlier try): the same note, no write
        return replace(outcome(bill, decision, "SUBMITTED"), status=None)
    if current_status != "SUBMITTED":
        return Outcome(
            invoice_id,
            None,
            f"{chosen or 'A decision'} in Airflow by {who} came after the bill became "
            f"{current_status}; nothing was changed.",
        )
    if chosen == APPROVE:
        return Outcome(invoice_id, "AUTHORISED", f"Approved in Airflow by {who}.")
    if chosen == REJECT:
        reason = str((decision.get("params_input") or {}).get("reason") or "").strip()
        note = (
            f"Rejected in Airflow by {who}: {reason or 'no reason given'}. The bill is back "
            "in DRAFT: correct it and submit it again, or delete it."
        )
        return Outcome(invoice_id, "DRAFT", note[:NOTE_LIMIT])
    raise ValueError(f"decision: {chosen!r} is not one of {OPTIONS}")
