"""Changes a person would make in Xero, one per automation, for the always-on demo.

Each round creates, through the sandbox's Accounting API (as any Xero app would), per
organisation: a supplier with an AUTHORISED bill and an AUTHORISED supplier credit note
that can settle it (credit note allocation), a SUBMITTED bill (bill approval), a
customer with an email address and an AUTHORISED sales invoice (invoice email), and so
new contacts (contact notes). It returns each record's ID and the time Xero gave its
change (``UpdatedDateUTC``), so the demo can measure how long each automation took to
act on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from xero_sandbox.testing import SandboxServer

# The automation DAG (prefix) that acts on each kind of change, and what it watches.
FEEDS = {
    "contacts": "xero_contact_history_notes_",
    "bills": "xero_bill_approval_notes_",
    "sales_invoices": "xero_send_invoice_emails_",
    "credit_notes": "xero_credit_note_allocation_",
}


@dataclass(frozen=True)
class Change:
    """One record the demo created: which feed it belongs to and when Xero stamped it."""

    feed: str
    tenant_id: str
    record_id: str
    changed_ms: int


class Writer:
    """Write to the sandbox as a connected app (waits out a 429 like a polite client)."""

    def __init__(self, sandbox: SandboxServer, tenant_ids: list[str]) -> None:
        self.url = sandbox.url
        self.token = sandbox.tokens(tenant_ids=tenant_ids)["access_token"]

    def get(self, tenant: str, path: str) -> dict[str, Any]:
        """``GET /api.xro/2.0/<path>`` (e.g. ``Invoices/<id>/History``)."""
        answer = httpx.get(
            f"{self.url}/api.xro/2.0/{path}",
            headers={
                "Authorization": f"Bearer {self.token}",
                "xero-tenant-id": tenant,
                "Accept": "application/json",
            },
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()

    def put(
        self, tenant: str, resource: str, records: list[dict[str, Any]], method: str = "PUT"
    ) -> list[dict]:
        """Create ``records`` (``PUT``), or update them with ``method="POST"``."""
        for _ in range(10):
            answer = httpx.request(
                method,
                f"{self.url}/api.xro/2.0/{resource}",
                json={resource: records},
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "xero-tenant-id": tenant,
                    "Accept": "application/json",
                },
                timeout=30,
            )
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers.get("Retry-After", "5")))
        if answer.status_code >= 400:
            raise RuntimeError(f"the sandbox refused the demo's {resource}: {answer.text[:500]}")
        return answer.json()[resource]


def _ms(record: dict[str, Any]) -> int:
    from xero_provider.state.feed import parse_ms

    return parse_ms(record["UpdatedDateUTC"])


def make_changes(writer: Writer, tenant: str, tag: str) -> list[Change]:
    """One change per automation in ``tenant``; ``tag`` keeps names unique per round."""
    today = date.today()

    def line(amount: str, account: str) -> list[dict[str, Any]]:
        return [
            {
                "Description": f"Demo {tag}",
                "Quantity": "1",
                "UnitAmount": amount,
                "AccountCode": account,
            }
        ]

    supplier, customer = writer.put(
        tenant,
        "Contacts",
        [
            {"Name": f"Always-on Supplier {tag}"},
            {"Name": f"Always-on Customer {tag}", "EmailAddress": f"ap+{tag}@example.com"},
        ],
    )
    dates = {"Date": today.isoformat(), "DueDate": (today + timedelta(days=30)).isoformat()}
    open_bill, submitted, sale = writer.put(
        tenant,
        "Invoices",
        [
            {
                "Type": "ACCPAY",
                "Status": "AUTHORISED",
                "Contact": {"ContactID": supplier["ContactID"]},
                "LineItems": line("300.00", "429"),
                **dates,
            },
            {
                "Type": "ACCPAY",
                "Status": "SUBMITTED",
                "Contact": {"ContactID": supplier["ContactID"]},
                "LineItems": line("120.00", "429"),
                **dates,
            },
            {
                "Type": "ACCREC",
                "Status": "AUTHORISED",
                "Contact": {"ContactID": customer["ContactID"]},
                "LineItems": line("250.00", "200"),
                **dates,
            },
        ],
    )
    (credit,) = writer.put(
        tenant,
        "CreditNotes",
        [
            {
                "Type": "ACCPAYCREDIT",
                "Status": "AUTHORISED",
                "Contact": {"ContactID": supplier["ContactID"]},
                "Date": today.isoformat(),
                "LineItems": line("80.00", "429"),
            }
        ],
    )
    del open_bill  # it is there to take the credit
    return [
        Change("contacts", tenant, customer["ContactID"], _ms(customer)),
        Change("bills", tenant, submitted["InvoiceID"], _ms(submitted)),
        Change("sales_invoices", tenant, sale["InvoiceID"], _ms(sale)),
        Change("credit_notes", tenant, credit["CreditNoteID"], _ms(credit)),
    ]


# --- watching the automations act on them ----------------------------------------------

SENSOR_TASKS = {
    "contacts": ("contact_changed", "ContactID"),
    "bills": ("bill_changed", "InvoiceID"),
    "sales_invoices": ("sales_invoice_changed", "InvoiceID"),
    "credit_notes": ("credit_note_changed", "CreditNoteID"),
}


@dataclass(frozen=True)
class Reaction:
    """Which run received a change, how it was started, and how long after the change."""

    change: Change
    dag_id: str
    run_id: str
    run_type: str
    delay_seconds: float


def _when(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def reactions(
    stack: Any,
    changes: list[Change],
    dag_for: dict[Change, str],
    seen: dict[tuple[str, str], tuple[str, set[str]]] | None = None,
) -> list[Reaction]:
    """The runs whose sensor delivered each change (so far), with the delay: from the
    change's ``UpdatedDateUTC`` to the sensor handing it to the run's next task.

    ``seen`` keeps each run's delivery once read (a sensor's output never changes), so
    polling costs one run list per DAG and new runs only.
    """
    seen = {} if seen is None else seen
    found: dict[Change, Reaction] = {}
    by_dag: dict[str, list[Change]] = {}
    for change in changes:
        by_dag.setdefault(dag_for[change], []).append(change)
    for dag_id, wanted in by_dag.items():
        task_id, id_field = SENSOR_TASKS[wanted[0].feed]
        for run in stack.runs(dag_id):
            key = (dag_id, run["dag_run_id"])
            if key not in seen:
                tis = {t["task_id"]: t for t in stack.task_instances(dag_id, run["dag_run_id"])}
                sensor = tis.get(task_id)
                if not sensor or sensor["state"] != "success" or not sensor.get("end_date"):
                    continue
                records = stack.xcom(dag_id, run["dag_run_id"], task_id) or []
                seen[key] = (sensor["end_date"], {r.get(id_field) for r in records})
            end_date, delivered = seen[key]
            sensor = {"end_date": end_date}
            for change in wanted:
                if change.record_id in delivered and change not in found:
                    delay = _when(sensor["end_date"]) - change.changed_ms / 1000
                    found[change] = Reaction(
                        change, dag_id, run["dag_run_id"], run["run_type"], delay
                    )
    return [found[c] for c in changes if c in found]


def delay_table(done: list[Reaction]) -> dict[str, dict[str, float]]:
    """p50 and max delay per feed, in seconds."""
    import statistics

    table = {}
    for feed in FEEDS:
        delays = sorted(r.delay_seconds for r in done if r.change.feed == feed)
        if delays:
            table[feed] = {
                "changes": len(delays),
                "p50_s": round(statistics.median(delays), 1),
                "max_s": round(delays[-1], 1),
            }
    return table


# --- the bill approval: a person's answers, given through Airflow's HITL REST API --------

APPROVAL_DAG = "xero_bill_approval_"


def pending_requests(stack: Any, dag_id: str) -> list[dict[str, Any]]:
    """The approval requests of ``dag_id`` waiting for an answer (HITL details)."""
    listed = stack.api("GET", f"/dags/{dag_id}/dagRuns/~/hitlDetails", params={"limit": 100})
    return [d for d in listed.get("hitl_details", []) if not d.get("response_received")]


# A person reads a request before answering it. An answer within a second or so of the task
# pausing can reach Airflow before the scheduler has processed the executor's event for that
# pause; the scheduler then sees a queued task "finished with state success", takes it as a
# state changed externally and fails it, and the decision is lost (seen in the suite on a
# busy machine: Airflow 3.3's awaiting_input path). So a scripted answer waits until the
# request is this old.
READ_SECONDS = 10.0


def answer(stack: Any, detail: dict[str, Any], option: str, reason: str = "") -> dict:
    """Answer one request as the logged-in user (PATCH .../hitlDetails), no sooner than
    :data:`READ_SECONDS` after it was made."""
    created = detail.get("created_at")
    if created:
        made = datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
        time.sleep(max(0.0, READ_SECONDS - (time.time() - made)))
    ti = detail["task_instance"]
    path = (
        f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/"
        f"{ti['task_id']}/{ti['map_index']}/hitlDetails"
    )
    body = {"chosen_options": [option], "params_input": {"reason": reason}}
    for _ in range(3):
        try:
            return stack.api("PATCH", path, json=body)
        except httpx.ReadTimeout:  # a busy SQLite: did the answer land before the timeout?
            if stack.api("GET", path).get("response_received"):
                return stack.api("GET", path)
    raise TimeoutError(f"could not answer {path}")
