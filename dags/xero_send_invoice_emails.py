"""Sales invoice changed -> send the invoice email, only where Xero will send it.

One DAG per organisation (``xero_send_invoice_emails_<key>``). Always on
(``@continuous``): unpause it and each run waits for the next changes, acts on them, and
the next run starts at once. The sensor waits in the triggerer for sales invoices
(ACCREC) changed after the last run that succeeded. Xero emails only sales invoices in
SUBMITTED, AUTHORISED or PAID whose contact has an email address (its own, or a contact
person included in emails); the ``choose`` task reads the contacts and splits the
invoices into those to send and those skipped, each with its reason.
``send_invoice_email`` sends the rest (``on_error="continue"``: one invoice Xero refuses
does not stop the others), and ``report`` returns what was sent, skipped, and refused by
Xero with Xero's message. A rerun or a cleared task never emails twice (run-scoped
idempotency keys and the provider's write ledger)."""

from __future__ import annotations

import logging
from datetime import datetime

from airflow.sdk import dag, task

from xero_examples.dag_support import MAX_ACTIVE_TASKS, WATCH, default_args, start_from_param, tags
from xero_examples.organisations import Organisation, organisations
from xero_provider.operators import XeroSendInvoiceEmailOperator
from xero_provider.sensors import XeroNewOrUpdatedSalesInvoiceSensor

log = logging.getLogger(__name__)


def build(org: Organisation):
    @dag(
        dag_id=f"xero_send_invoice_emails_{org.key}",
        description=f"Sales invoice changed -> invoice email ({org.name or org.conn_id})",
        schedule="@continuous",  # always on: unpausing is the only step
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=tags(org, "automation", "invoices"),
        params={"start_from": start_from_param()},
        default_args=default_args(org),
        max_active_tasks=MAX_ACTIVE_TASKS,
        doc_md=__doc__,
    )
    def send_invoice_emails() -> None:
        changed = XeroNewOrUpdatedSalesInvoiceSensor(
            task_id="sales_invoice_changed", xero_conn_id=org.conn_id, **WATCH
        )

        @task(multiple_outputs=True)
        def choose(invoices: list[dict]) -> dict:
            """Split into invoices Xero will email and skipped ones with the reason."""
            from xero_examples.automations import split_emailable
            from xero_provider.hooks import XeroHook

            contact_ids = sorted(
                {(i.get("Contact") or {}).get("ContactID") for i in invoices} - {None}
            )
            hook = XeroHook(org.conn_id)
            try:
                contacts = (
                    {c["ContactID"]: c for c in hook.iter_records("Contacts", ids=contact_ids)}
                    if contact_ids
                    else {}
                )
            finally:
                hook.close()
            send, skipped = split_emailable(invoices, contacts)
            return {"send": send, "skipped": skipped}

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def anything_to_send(send: list[str]) -> bool:
            return bool(send)

        @task(trigger_rule="none_failed")
        def report(send: list[str], skipped: list[dict], ti=None) -> dict:
            """What was sent, skipped (and why), and refused by Xero."""
            refused = ti.xcom_pull(task_ids="send_invoice_email", key="rejected") or []
            refused_ids = {r.get("record_id") for r in refused}
            for item in skipped:
                log.info("skipped %s: %s", item["InvoiceNumber"], item["reason"])
            for item in refused:
                log.warning("Xero refused %s: %s", item.get("record_id"), item.get("message"))
            return {
                "sent": [i for i in send if i not in refused_ids],
                "skipped": skipped,
                "refused": refused,
            }

        decision = choose(changed.output)
        email = XeroSendInvoiceEmailOperator(
            task_id="send_invoice_email",
            xero_conn_id=org.conn_id,
            record_ids=decision["send"],
            on_error="continue",
        )
        anything_to_send(decision["send"]) >> email >> report(decision["send"], decision["skipped"])

    return send_invoice_emails()


for _org in organisations():
    globals()[f"xero_send_invoice_emails_{_org.key}"] = build(_org)
