"""Everything the soak assumes about the example DAGs, and its knobs, in one place.

The DAG ids, task ids and note texts below are the example DAGs' (``dags/``): when those
change, this is the file to adapt.
"""

from __future__ import annotations

from dataclasses import dataclass

# The automations (always on, ``@continuous``), by the feed of changes that starts them:
# DAG id prefix (``<prefix><org key>``) and the sensor task that delivers the change.
AUTOMATIONS = {
    "contacts": ("xero_contact_history_notes_", "contact_changed", "ContactID"),
    "bills": ("xero_bill_approval_notes_", "bill_changed", "InvoiceID"),
    "approvals": ("xero_bill_approval_", "bill_submitted", "InvoiceID"),
    "sales_invoices": ("xero_send_invoice_emails_", "sales_invoice_changed", "InvoiceID"),
    "credit_notes": ("xero_credit_note_allocation_", "credit_note_changed", "CreditNoteID"),
}
ASSET_DAG = "xero_contact_changes_asset_"  # contacts -> warehouse, started by asset events
WAREHOUSE_DAG = "xero_warehouse_sync_"  # every resource -> warehouse (triggered by the soak)
KEEPALIVE_DAG = "xero_token_keepalive"

# What each automation writes to Xero, as the soak recognises it in a record's History.
CONTACT_NOTE = "Contact change seen by Airflow"  # xero_contact_history_notes "note" param
BILL_NOTE = "Sent for approval (Airflow run"  # xero_bill_approval_notes "note" param
APPROVED_NOTE = "Approved in Airflow by"  # xero_examples.approvals.outcome
REJECTED_NOTE = "Rejected in Airflow by"
NO_DECISION_NOTE = "No approval decision in Airflow"
EMAIL_CHANGE = "Email sent"  # the History entry Xero (the sandbox) adds per email


@dataclass
class SoakConfig:
    """The soak's knobs; the defaults are ``make soak``'s (one hour).

    :param minutes: how long the stream of changes and the chaos run.
    :param seed: seeds the stream, the faults, the killer and the approver.
    :param change_every: seconds between two rounds of changes (one organisation each).
    :param fault_fraction: share of Accounting API calls that get a fault (about 10%).
    :param kill_every: mean seconds between two kills (exponential gaps).
    :param sync_every: seconds between two warehouse sync runs per organisation.
    :param workers: Celery workers; ``worker_concurrency`` task slots each.
    :param drain_minutes: at most this long, after the stream stops, for the last runs.
    :param approve_share: the share of bills the approver approves (the rest: rejected).
    :param final_quality_check: the last warehouse sync also runs its quality check.
    :param app_tier: the demo app's Xero tier in the sandbox (``starter`` ... ``enterprise``;
        None: the sandbox's default, Advanced). Below Advanced the syncs skip Journals with
        a note and the verdict checks the warehouse holds none.
    :param first_loads_in_chaos: the first warehouse loads (the runs unpausing starts) run
        under the chaos instead of before it: a short soak's syncs under faults and kills
        without a third run per organisation, and minutes sooner. ``make soak`` loads
        first, as a person's first day does.
    """

    minutes: float = 60
    seed: int = 24
    change_every: float = 20
    fault_fraction: float = 0.10
    kill_every: float = 240
    sync_every: float = 600
    workers: int = 2
    worker_concurrency: int = 4
    drain_minutes: float = 30
    approve_share: float = 0.7
    final_quality_check: bool = True
    app_tier: str | None = None
    first_loads_in_chaos: bool = False
