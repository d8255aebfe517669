"""Bill submitted for approval -> a person approves or rejects it in Airflow -> Xero.

One DAG per organisation (``xero_bill_approval_<key>``). Always on (``@continuous``):
unpause it and each run waits in the triggerer for bills that became SUBMITTED (awaiting
approval) after the last run that succeeded. Each bill is put to a person in Airflow's
human-in-the-loop UI (Airflow 3.1+ ``HITLOperator``, one mapped task per bill, deferred
while it waits): the request shows the contact, total, due date and a link to the bill in
Xero, and offers Approve or Reject with a reason. Then, per Xero's rules for a SUBMITTED
bill (``xero_examples.approvals``):

* **Approve**: the bill becomes AUTHORISED, with a history note naming the approver.
* **Reject**: the bill goes back to DRAFT, with a note giving the reason and what to do.
* **No answer within ``RESPONSE_HOURS``**: the request times out; the bill stays SUBMITTED
  in Xero (it can still be approved there) and gets a note saying so.

A decision made after the bill changed in Xero (approved or deleted there meanwhile)
changes nothing and is noted. Writes use run-scoped idempotency keys: a retry never writes
twice. The next run starts when every decision of this one is in (or timed out), so bills
submitted meanwhile are asked in the next run. Teams that approve inside Xero keep the
note-only ``xero_bill_approval_notes_<key>``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from xero_examples.approvals import OPTIONS
from xero_examples.dag_support import WATCH, default_args, start_from_param, tags
from xero_examples.organisations import Organisation, organisations
from xero_provider.sensors import XeroNewOrUpdatedBillSensor

RESPONSE_HOURS = 24


def build(org: Organisation):
    @dag(
        dag_id=f"xero_bill_approval_{org.key}",
        description=f"Bill awaiting approval -> a person decides ({org.name or org.conn_id})",
        schedule="@continuous",  # always on: unpausing is the only step
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=tags(org, "automation", "bills", "approval"),
        params={"start_from": start_from_param()},
        default_args=default_args(org),
        doc_md=__doc__,
    )
    def bill_approval() -> None:
        submitted = XeroNewOrUpdatedBillSensor(
            task_id="bill_submitted", xero_conn_id=org.conn_id, statuses=["SUBMITTED"], **WATCH
        )

        @task
        def approval_requests(bills: list[dict]) -> list[dict]:
            """One request per bill: contact, total, due date and a link into Xero."""
            from xero_examples.approvals import approval_request
            from xero_provider.hooks import XeroHook

            hook = XeroHook(org.conn_id)
            try:
                (organisation,) = hook.call("GET", "Organisation")["Organisations"]
            finally:
                hook.close()
            return [approval_request(bill, organisation.get("ShortCode")) for bill in bills]

        decide = HITLOperator.partial(
            task_id="decide",
            options=OPTIONS,
            params={"reason": Param("", type="string", maxLength=1000)},
            response_timeout=timedelta(hours=RESPONSE_HOURS),
            retries=0,  # a retry would ask again; a timeout is an answer here
            pool="default_pool",  # waiting for a person holds no Xero slot
        ).expand_kwargs(approval_requests(submitted.output))

        @task(trigger_rule="all_done")
        def apply_decisions(bills: list[dict], ti=None, dag_run=None) -> list[dict]:
            """Write each decision to Xero: status per Xero's rules, and a history note."""
            from xero_examples.approvals import outcome
            from xero_provider.hooks import XeroHook

            decisions = [
                ti.xcom_pull(task_ids="decide", map_indexes=index) for index in range(len(bills))
            ]
            hook = XeroHook(org.conn_id)
            try:
                ids = [bill["InvoiceID"] for bill in bills]
                now = {b["InvoiceID"]: b["Status"] for b in hook.iter_records("Bills", ids=ids)}
                plans = [
                    outcome(bill, decision, now.get(bill["InvoiceID"]))
                    for bill, decision in zip(bills, decisions, strict=True)
                ]
                key = f"{dag_run.dag_id}:{dag_run.run_id}:apply"
                updates = [
                    {"InvoiceID": p.invoice_id, "Status": p.status} for p in plans if p.status
                ]
                failed = []
                if updates:
                    results = hook.update("Bills", updates, idempotency_key=f"{key}:status")
                    failed += [r for r in results if not r.ok]
                notes = [(p.invoice_id, {"HistoryRecords": [{"Details": p.note}]}) for p in plans]
                results = hook.act(
                    "Bills",
                    notes,
                    method="PUT",
                    action="History",
                    list_key="HistoryRecords",
                    idempotency_key=f"{key}:notes",
                )
                failed += [r for r in results if not r.ok]
            finally:
                hook.close()
            if failed:
                raise RuntimeError(f"Xero refused {len(failed)} write(s): {failed}")
            return [{"InvoiceID": p.invoice_id, "Status": p.status, "note": p.note} for p in plans]

        decide >> apply_decisions(submitted.output)

    return bill_approval()


for _org in organisations(Path(__file__).with_name("xero_organisations.json")):
    globals()[f"xero_bill_approval_{_org.key}"] = build(_org)
