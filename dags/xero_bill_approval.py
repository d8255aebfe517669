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
changes nothing and is noted. The next run starts when every decision of this one is in
(or timed out), so bills submitted meanwhile are asked in the next run. Teams that
approve inside Xero keep the note-only ``xero_bill_approval_notes_<key>``.

**A question that dies is asked again, never taken as "no answer"** (issue 24). The
``decide`` step (``xero_examples.approval_step``) turns the real response timeout into a
value, ``TIMED_OUT``; any failure (a killed worker, Airflow 3.3 failing a task resumed by
an answer as "state changed externally") leaves no value and is retried, and a retry opens
a new request: the person is asked again. If every try failed, ``apply_decisions`` writes
nothing for that bill (no status, no note), writes the other decisions, then fails the
run: a failed run does not move the bill sensor's position, so the next run receives the
bill again (still SUBMITTED) and asks again.

**Each decision is written once** under retries and clears: every bill has its own
idempotency keys (``<run>:apply:status:<bill>``, ``...:note:<bill>``), so the bills a try
writes do not depend on which others it writes, and the write ledger replays what an
earlier try wrote. A bill that already has the status its decision leads to (an earlier
try wrote it) gets the same note and no second status change, so a retry plans exactly
what the first try did. Across runs, a bill is only asked again while it is SUBMITTED:
approved or rejected bills leave the sensor's ``SUBMITTED`` filter. (One case writes a
second note: a bill that timed out is still SUBMITTED, so if its run fails for another
bill's failed step, the next run asks about it again, and a second timeout notes it again.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from xero_examples.approval_step import ApprovalStep
from xero_examples.approvals import OPTIONS
from xero_examples.dag_support import MAX_ACTIVE_TASKS, WATCH, default_args, start_from_param, tags
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
        max_active_tasks=MAX_ACTIVE_TASKS,
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
            from xero_provider.operators.links import short_code

            hook = XeroHook(org.conn_id)
            try:
                code = short_code(hook)  # kept per organisation: asked of Xero once
            finally:
                hook.close()
            return [approval_request(bill, code) for bill in bills]

        decide = ApprovalStep.partial(
            task_id="decide",
            options=OPTIONS,
            params={"reason": Param("", type="string", maxLength=1000)},
            response_timeout=timedelta(hours=RESPONSE_HOURS),
            retries=3,  # a failed try asks again; the timeout is a value, never retried
            retry_delay=timedelta(seconds=10),
            pool="default_pool",  # waiting for a person holds no Xero slot
        ).expand_kwargs(approval_requests(submitted.output))

        @task(trigger_rule="all_done")
        def apply_decisions(bills: list[dict], ti=None, dag_run=None) -> list[dict]:
            """Write each decision to Xero (status per Xero's rules, a history note), once
            per bill; fail the run when a bill got no decision, so it is asked again."""
            from airflow.sdk.exceptions import AirflowFailException

            from xero_examples.approvals import outcome
            from xero_provider.hooks import XeroHook

            decisions = [
                ti.xcom_pull(task_ids="decide", map_indexes=index) for index in range(len(bills))
            ]
            hook = XeroHook(org.conn_id)
            failed = []
            try:
                ids = [bill["InvoiceID"] for bill in bills]
                now = {b["InvoiceID"]: b["Status"] for b in hook.iter_records("Bills", ids=ids)}
                plans = [
                    outcome(bill, decision, now.get(bill["InvoiceID"]))
                    for bill, decision in zip(bills, decisions, strict=True)
                ]
                key = f"{dag_run.dag_id}:{dag_run.run_id}:apply"
                for p in plans:  # keys per bill: what one bill writes never shifts another's
                    if p.status:
                        update = {"InvoiceID": p.invoice_id, "Status": p.status}
                        results = hook.update(
                            "Bills", [update], idempotency_key=f"{key}:status:{p.invoice_id}"
                        )
                        failed += [r for r in results if not r.ok]
                    if p.note:
                        results = hook.act(
                            "Bills",
                            [(p.invoice_id, {"HistoryRecords": [{"Details": p.note}]})],
                            method="PUT",
                            action="History",
                            list_key="HistoryRecords",
                            idempotency_key=f"{key}:note:{p.invoice_id}",
                        )
                        failed += [r for r in results if not r.ok]
            finally:
                hook.close()
            if failed:
                raise RuntimeError(f"Xero refused {len(failed)} write(s): {failed}")
            undecided = [p.invoice_id for p in plans if p.undecided]
            if undecided:  # no retry: the next run (this one failed) asks the person again
                raise AirflowFailException(
                    f"no decision recorded for bill(s) {', '.join(undecided)}: their decide "
                    "task failed before the response timeout (not a timeout, so no note was "
                    "written); this run fails so that the next run asks again"
                )
            return [{"InvoiceID": p.invoice_id, "Status": p.status, "note": p.note} for p in plans]

        decide >> apply_decisions(submitted.output)

    return bill_approval()


for _org in organisations():
    globals()[f"xero_bill_approval_{_org.key}"] = build(_org)
