"""The soak's scripted approver: a person answering bill approvals in Airflow's UI, here
through the same HITL REST API (``PATCH .../hitlDetails``), approving a seeded share of
bills and rejecting the rest with a reason.

The soak runs the note-only bill automation next to the approval one. Sensors deliver a
record's current version, so a bill decided before the note-only automation read it is
(rightly) no longer SUBMITTED there and gets no "Sent for approval" note; a person would
take bills from that queue. So the approver answers a bill once its note is in Xero
(``noted``), and the verdict can require exactly one note and one decision per bill.

A bill can be asked again: when the approval DAG's ``decide`` task dies (a killed worker,
Airflow's executor-event race after an answer), its retry, or the next run, opens a new
request (issue 24). The approver then gives the answer it gave before, as the same person
would; the verdict still requires exactly one decision's effect in Xero."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from xero_demo.changes import answer, pending_requests
from xero_demo.stack import AirflowStack
from xero_examples.approvals import APPROVE, REJECT

BILL_ID = re.compile(r"InvoiceID=([0-9a-fA-F-]{36})")  # the deep link in the request body
REASON = "Soak: amount looks wrong"


@dataclass
class Approver:
    stack: AirflowStack
    dag_ids: list[str]
    seed: int
    approve_share: float
    random: random.Random = field(init=False)
    # the bills (lower-case IDs) ready for a decision; None: every bill asked about
    noted: Callable[[], set[str]] | None = None
    answered: dict[str, str] = field(default_factory=dict)  # InvoiceID -> option
    asked_again: int = 0  # requests for a bill already answered (its decide task died)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def step(self) -> int:
        """Answer every request waiting now; returns how many were answered."""
        done = 0
        ready = self.noted() if self.noted is not None else None
        for dag_id in self.dag_ids:
            for detail in pending_requests(self.stack, dag_id):
                found = BILL_ID.search(detail.get("body") or "")
                if not found:
                    self.errors.append(f"a request without a bill link: {detail.get('body')}")
                    continue
                bill = found.group(1).lower()
                if ready is not None and bill not in ready:
                    continue  # not in the "sent for approval" queue yet
                option = self.answered.get(bill)  # asked again: the same answer
                if option is not None:
                    self.asked_again += 1
                else:
                    option = APPROVE if self.random.random() < self.approve_share else REJECT
                try:
                    answer(self.stack, detail, option, "" if option == APPROVE else REASON)
                except RuntimeError as error:  # answered meanwhile, or the run moved on
                    self.errors.append(f"answering {bill}: {str(error)[:300]}")
                    continue
                self.answered[bill] = option
                done += 1
        return done
