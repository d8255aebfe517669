"""What the example DAGs share: per-organisation defaults, the change-watching settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param

from xero_examples.organisations import Organisation

# The automations watch changes with a persisted position (``polling="watermark"``): a
# run receives the changes after the last run that succeeded, so continuous runs, manual
# runs, reruns and a failed run's retry work without a data interval. Waiting happens in
# the triggerer; a change reaches its run settle_seconds to settle + poke_interval after.
WATCH: dict[str, Any] = {
    "polling": "watermark",
    "start_from": "{{ params.start_from }}",
    "settle_seconds": 15,
    "deferrable": True,
    "poke_interval": 30,
    "timeout": 3600,
    "soft_fail": True,  # no change within the hour: the run is skipped, not failed
}


def default_args(org: Organisation) -> dict[str, Any]:
    """Retries, and the organisation's pool (5 slots: Xero's concurrent-call limit)."""
    return {"retries": 2, "retry_delay": timedelta(seconds=30), "pool": org.pool}


def start_from_param() -> Param:
    return Param(
        "now",
        type="string",
        description="first run only: 'now' or an ISO timestamp to take changes from",
    )


def tags(org: Organisation, *more: str) -> list[str]:
    return ["xero", *more, f"org:{org.key}"]
