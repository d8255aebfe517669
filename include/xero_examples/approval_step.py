"""The bill approval's question to a person: Airflow's ``HITLOperator``, except that a
response timeout is an answer (:data:`~xero_examples.approvals.TIMED_OUT`) instead of a
failure.

Why: the approval DAG must tell "nobody answered within ``RESPONSE_HOURS``" (a note on
the bill) from "the step died" (a killed worker, Airflow 3.3's executor-event race that
fails a task resumed by an answer as "state changed externally"), where the person must
be asked again. A failed task leaves no value, whatever killed it, so the timeout is the
one outcome that must leave a value: then the step can be retried on any failure (a retry
opens a new request) without a real timeout ever being retried.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from xero_examples.approvals import TIMED_OUT


class ApprovalStep(HITLOperator):
    """``HITLOperator`` whose response timeout returns :data:`TIMED_OUT` (Airflow resumes a
    timed-out request without defaults with ``error_type`` ``timeout``: the scheduler's
    timeout sweep on 3.3, ``HITLTrigger`` before)."""

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if event.get("error_type") == "timeout":
            self.log.info("No response within the response timeout: %s", event.get("error"))
            return dict(TIMED_OUT)
        return super().execute_complete(context, event)
