"""Contact changed -> add a history note (mapped per contact).

One DAG per organisation (``xero_contact_history_notes_<key>``). Always on
(``@continuous``): unpause it and each run waits for the next changes, acts on them, and
the next run starts at once. The sensor waits in the triggerer for new or updated
contacts after the last run that succeeded (archived contacts included) and hands over
the contacts its trigger read (no second read of Xero), and each gets its own note in its
History, one mapped task per contact: a contact Xero refuses fails only its own task,
and clearing it writes that note once (run-scoped idempotency keys).

Params: ``start_from`` (first run only: ``now`` or an ISO timestamp), ``note`` (text put
before the contact's name and status).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from xero_examples.dag_support import MAX_ACTIVE_TASKS, WATCH, default_args, start_from_param, tags
from xero_examples.organisations import Organisation, organisations
from xero_provider.operators import XeroAddHistoryNoteOperator
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

NOTE_LIMIT = 2500  # Xero's limit for a history note


def build(org: Organisation):
    @dag(
        dag_id=f"xero_contact_history_notes_{org.key}",
        description=f"Contact changed -> note in its history ({org.name or org.conn_id})",
        schedule="@continuous",  # always on: unpausing is the only step
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=tags(org, "automation", "contacts"),
        params={
            "start_from": start_from_param(),
            "note": Param("Contact change seen by Airflow", type="string", maxLength=2000),
        },
        default_args=default_args(org),
        max_active_tasks=MAX_ACTIVE_TASKS,
        doc_md=__doc__,
    )
    def contact_history_notes() -> None:
        changed = XeroNewOrUpdatedContactSensor(
            task_id="contact_changed", xero_conn_id=org.conn_id, **WATCH
        )

        @task
        def compose_notes(records: list[dict], params: dict | None = None) -> list[dict]:
            """One note per contact: the param's text, the name and the status."""
            return [
                {
                    "ContactID": record["ContactID"],
                    "Details": (
                        f"{params['note']}: {record.get('Name')} ({record.get('ContactStatus')})"
                    )[:NOTE_LIMIT],
                }
                for record in records
            ]

        XeroAddHistoryNoteOperator.partial(
            task_id="add_history_note", resource="Contacts", xero_conn_id=org.conn_id
        ).expand(records=compose_notes(changed.output))

    return contact_history_notes()


for _org in organisations():
    globals()[f"xero_contact_history_notes_{_org.key}"] = build(_org)
