"""Bill changed -> add a templated note such as "Sent for approval".

One DAG per organisation (``xero_bill_approval_notes_<key>``). Always on
(``@continuous``): unpause it and each run waits for the next changes, acts on them, and
the next run starts at once. The sensor waits in the triggerer for bills (ACCPAY
invoices) in the ``statuses`` param (default SUBMITTED, i.e. awaiting approval) changed
after the last run that succeeded and hands over the bills its trigger read (no second
read of Xero; a bill deleted since is refused by Xero and fails the note step with Xero's
message), and the note is rendered from the ``note`` param with the run's id, so a
person reading the bill's History in Xero can find the run. A rerun never adds the note twice.
Sensors deliver a record's current version: a bill that left SUBMITTED before this DAG's
sensor read it (decided meanwhile, in Xero or by ``xero_bill_approval_<key>``) arrives in
its newer status and gets no note."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from xero_examples.dag_support import MAX_ACTIVE_TASKS, WATCH, default_args, start_from_param, tags
from xero_examples.organisations import Organisation, organisations
from xero_provider.operators import XeroAddHistoryNoteOperator
from xero_provider.sensors import XeroNewOrUpdatedBillSensor


def build(org: Organisation):
    @dag(
        dag_id=f"xero_bill_approval_notes_{org.key}",
        description=f"Bill awaiting approval -> note in its history ({org.name or org.conn_id})",
        schedule="@continuous",  # always on: unpausing is the only step
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        render_template_as_native_obj=True,  # the statuses param stays a list
        tags=tags(org, "automation", "bills"),
        params={
            "start_from": start_from_param(),
            "statuses": Param(["SUBMITTED"], type="array", items={"type": "string"}),
            "note": Param("Sent for approval", type="string", maxLength=2000),
        },
        default_args=default_args(org),
        max_active_tasks=MAX_ACTIVE_TASKS,
        doc_md=__doc__,
    )
    def bill_approval_notes() -> None:
        changed = XeroNewOrUpdatedBillSensor(
            task_id="bill_changed",
            xero_conn_id=org.conn_id,
            statuses="{{ params.statuses }}",
            **WATCH,
        )
        XeroAddHistoryNoteOperator(
            task_id="add_note",
            resource="Bills",
            xero_conn_id=org.conn_id,
            record_ids=changed.output["ids"],
            note="{{ params.note }} (Airflow run {{ run_id }})",
        )

    return bill_approval_notes()


for _org in organisations():
    globals()[f"xero_bill_approval_notes_{_org.key}"] = build(_org)
