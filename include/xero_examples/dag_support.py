"""What the example DAGs share: per-organisation defaults, the change-watching settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param

from xero_examples.organisations import Organisation

# The automations watch changes with a persisted position (``polling="watermark"``): a
# run receives the changes after the last run that succeeded, so continuous runs, manual
# runs, reruns and a failed run's retry work without a data interval. Waiting happens in
# the triggerer. How often it reads Xero is not set here: the organisation's daily call
# plan (README "The daily call plan") spreads the day's calls over every watched feed,
# and Xero's webhooks (contacts, invoices) wake a waiting trigger within seconds;
# ``poke_interval`` is only the shortest interval a feed may get. A change reaches its
# run settle_seconds after its webhook, or settle_seconds + up to one planned interval.
WATCH: dict[str, Any] = {
    "polling": "watermark",
    "start_from": "{{ params.start_from }}",
    "settle_seconds": 15,
    "deferrable": True,
    "poke_interval": 30,  # a floor: the call plan's interval is used when longer
    "timeout": 3600,
    "soft_fail": True,  # no change within the hour: the run is skipped, not failed
}


# Tasks of one organisation's DAG running at once. No pool per organisation: the shared
# call slots already hold every process to Xero's 5 calls in flight per organisation
# (README "Rate limits"), and a pool would be one more thing to create per connection. A
# cap per DAG keeps a big run (a full warehouse sync: 30 tasks) from filling the workers
# with tasks that only wait for its 5 call slots while other organisations' tasks queue.
MAX_ACTIVE_TASKS = 5


def interleaved(step: int) -> dict[str, Any]:
    """Task arguments for step ``step`` (0, 1, ...) of an organisation's sync, so that when
    organisations outnumber the task slots every organisation's step n runs before
    anyone's step n + 1 (round-robin) and they all finish in the last wave, instead of
    the organisations triggered first finishing long before the last (FIFO).

    Airflow 3.3's scheduler queues the SCHEDULED task instances in the order
    ``-TI.priority_weight, DR.logical_date, TI.map_index`` (``SchedulerJobRunner.
    _executable_task_instances_to_queued`` in airflow/jobs/scheduler_job_runner.py,
    apache-airflow-core 3.3.2): the weight decides across DAGs, a run's date only breaks
    ties. ``absolute`` makes a task's weight exactly its ``priority_weight`` (the default
    ``downstream`` sums a task's descendants, so parallel steps would tie). The weight
    falls from 1, Airflow's default, to below it: a sync step never jumps ahead of
    another DAG's task (an automation waiting on a webhook), it only yields to the other
    organisations' earlier steps.
    """
    if step < 0:
        raise ValueError(f"step must be 0 or more, got {step}")
    return {"priority_weight": 1 - step, "weight_rule": "absolute"}


# A sync task reads at most about this many pages a try, then gives its worker slot back
# until SLICE_PAUSE has passed (``next_slice``): an organisation with many pages reads them
# in many short steps between the others' instead of holding slots for whole waves of
# them. The read keeps its place between slices (``xero_examples.slices``). At 1,000
# records a page, 10 pages are 10,000 records a try; an ordinary incremental run is one.
PAGES_PER_SLICE = 10
SLICE_PAUSE = timedelta(seconds=5)


def next_slice(result: dict[str, Any], pause: timedelta = SLICE_PAUSE) -> dict[str, Any]:
    """The result of a sync step that read to the end; for a slice that left more to
    read, give the worker slot back: the task is rescheduled (same try, state
    ``up_for_reschedule``) and runs its next slice once ``pause`` has passed.

    Airflow 3.3 reschedules any task that raises ``AirflowRescheduleException``, not only
    sensors: ``ReadyToRescheduleDep`` (airflow/ti_deps/deps/ready_to_reschedule.py) holds a
    task in ``up_for_reschedule`` until its reschedule date, and the scheduler keeps its
    try number (``DagRun.schedule_tis``), so the retries stay for failures. The next slice
    is queued like any scheduled task, by its ``interleaved`` weight.

    Airflow 3.3 can fail a rescheduled task by mistake: when the executor's "finished"
    event for one slice reaches the scheduler after the task is already ``scheduled`` for
    the next (same try number), the scheduler takes it for a task killed from outside
    (apache/airflow issue 71172, open; seen here on Celery under load, with slots full).
    The DAGs' retries (:func:`default_args`) cover it: the next try resumes where the
    read stopped (``xero_examples.slices``), so nothing is read or written twice.
    """
    if not result.get("more"):
        return result
    from airflow.sdk.exceptions import AirflowRescheduleException

    raise AirflowRescheduleException(datetime.now(UTC) + pause)


def default_args(org: Organisation) -> dict[str, Any]:
    """Retries; limits come from the call slots and ``MAX_ACTIVE_TASKS``, not pools."""
    return {"retries": 2, "retry_delay": timedelta(seconds=30)}


def start_from_param() -> Param:
    return Param(
        "now",
        type="string",
        description="first run only: 'now' or an ISO timestamp to take changes from",
    )


def tags(org: Organisation, *more: str) -> list[str]:
    return ["xero", *more, f"org:{org.key}"]
