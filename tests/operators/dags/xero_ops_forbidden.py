"""One read with task retries: a 403 must fail it at once, a 503 be retried."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

with DAG(
    "xero_ops_forbidden",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
) as dag:

    @task
    def read_contacts() -> int:
        from xero_provider.hooks import XeroHook

        hook = XeroHook("xero_ops")
        try:
            return len(hook.call("GET", "Contacts")["Contacts"])
        finally:
            hook.close()

    read_contacts()
