"""Credit note changed -> allocate its remaining credit, oldest open document first.

One DAG per organisation (``xero_credit_note_allocation_<key>``). Always on
(``@continuous``): unpause it and each run waits for the next changes, acts on them, and
the next run starts at once. The sensor waits in the triggerer for AUTHORISED credit
notes changed after the last run that succeeded. Rules
(``xero_examples.automations.plan_allocations``):

* only AUTHORISED credit notes with ``RemainingCredit`` above zero;
* a supplier credit (ACCPAYCREDIT) goes to the same contact's AUTHORISED bills (ACCPAY),
  a customer credit (ACCRECCREDIT) to its AUTHORISED sales invoices (ACCREC), in the same
  currency;
* oldest first (``Date``, then ``DueDate``, then number); each allocation is the smaller
  of the credit left and the document's ``AmountDue``; several credit notes of one contact
  share the documents without over-allocating;
* the allocation is dated the run's date; credit left over is reported, not forced.

The plan is computed from Xero's current figures each time it runs, so a rerun after a
partial success allocates only what is still open; the allocation step uses run-scoped
idempotency keys, so a cleared task never allocates twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from airflow.sdk import dag, task

from xero_examples.dag_support import MAX_ACTIVE_TASKS, WATCH, default_args, start_from_param, tags
from xero_examples.organisations import Organisation, organisations
from xero_provider.operators import XeroUpdateCreditNoteAllocationOperator
from xero_provider.sensors import XeroNewOrUpdatedCreditNoteSensor

log = logging.getLogger(__name__)


def build(org: Organisation):
    @dag(
        dag_id=f"xero_credit_note_allocation_{org.key}",
        description=f"Credit note changed -> allocate credit ({org.name or org.conn_id})",
        schedule="@continuous",  # always on: unpausing is the only step
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=tags(org, "automation", "credit-notes"),
        params={"start_from": start_from_param()},
        default_args=default_args(org),
        max_active_tasks=MAX_ACTIVE_TASKS,
        doc_md=__doc__,
    )
    def credit_note_allocation() -> None:
        changed = XeroNewOrUpdatedCreditNoteSensor(
            task_id="credit_note_changed",
            xero_conn_id=org.conn_id,
            statuses=["AUTHORISED"],
            **WATCH,
        )

        @task
        def plan(changed_notes: list[dict], dag_run=None) -> list[dict]:
            """Allocations for the changed credit notes, from Xero's current figures."""
            from xero_examples.automations import SETTLES, plan_allocations
            from xero_provider.hooks import XeroHook

            hook = XeroHook(org.conn_id)
            try:
                ids = [n["CreditNoteID"] for n in changed_notes]
                notes = list(hook.iter_records("CreditNotes", ids=ids))
                documents = []
                for contact_id in sorted({n["Contact"]["ContactID"] for n in notes}):
                    for kind in sorted({SETTLES.get(n.get("Type")) for n in notes} - {None}):
                        where = f'Contact.ContactID==guid("{contact_id}") AND Type=="{kind}"'
                        documents += hook.iter_records(
                            "Invoices", where=where, statuses=["AUTHORISED"]
                        )
            finally:
                hook.close()
            allocations, leftovers = plan_allocations(notes, documents, dag_run.run_after.date())
            for item in leftovers:
                log.info("%s: %s", item["CreditNoteNumber"], item["reason"])
            return allocations

        @task.short_circuit
        def anything_to_allocate(allocations: list[dict]) -> bool:
            return bool(allocations)

        allocations = plan(changed.output)
        anything_to_allocate(allocations) >> XeroUpdateCreditNoteAllocationOperator(
            task_id="allocate_credit", xero_conn_id=org.conn_id, records=allocations
        )

    return credit_note_allocation()


for _org in organisations():
    globals()[f"xero_credit_note_allocation_{_org.key}"] = build(_org)
