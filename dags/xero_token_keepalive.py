"""Keep idle Xero authorisations alive.

Xero expires a refresh token left unused for 60 days, after which a person has to
authorise the app again. This daily DAG refreshes, for each listed ``xero`` connection,
any refresh token older than ``max_age_days`` (30 by default), so a connection used only
by a monthly or quarterly DAG never lapses. Custom connections (client_credentials)
have no refresh token and are skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task


@dag(
    dag_id="xero_token_keepalive",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # a daily job that a transient error (a busy metadata database, a restarted worker)
    # should not turn into a missed day: the example DAGs' retries
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["xero", "maintenance"],
    params={
        "conn_ids": Param(["xero_default"], type="array", description="xero connections"),
        "max_age_days": Param(30, type="integer", minimum=1, maximum=59),
    },
    doc_md=__doc__,
)
def xero_token_keepalive() -> None:
    @task
    def connections(params: dict | None = None) -> list[str]:
        """The connections to look after (the DAG's ``conn_ids`` param)."""
        return list((params or {})["conn_ids"])

    @task(max_active_tis_per_dag=4)
    def keep_alive(conn_id: str, params: dict | None = None) -> dict:
        """Refresh ``conn_id``'s tokens if its refresh token is getting old."""
        from xero_provider.auth.tokens import TokenManager

        manager = TokenManager.from_conn_id(conn_id)
        refreshed = manager.keepalive(max_age_days=(params or {})["max_age_days"])
        return {"conn_id": conn_id, "refreshed": refreshed}

    keep_alive.expand(conn_id=connections())


xero_token_keepalive()
