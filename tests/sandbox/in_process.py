"""An organisation driven in-process through the generic service, for rule tests that
don't need HTTP (the HTTP tests use the ``sandbox`` fixture instead)."""

from __future__ import annotations

from typing import Any

from xero_sandbox.accounting import service
from xero_sandbox.accounting.base import ResourceRules, WriteContext
from xero_sandbox.organisation import Organisation
from xero_sandbox.responses import Outcome, outcome_of
from xero_sandbox.seed import add_organisation, write
from xero_sandbox.state import SandboxState


class InProcessOrg:
    """A fresh sandbox state with one organisation (reference data seeded) and contacts."""

    def __init__(self, org: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> None:
        self.state = SandboxState()
        self.org: Organisation = add_organisation(self.state, org)
        made = write(self.state, self.org, "Contacts", contacts) if contacts else []
        self.contacts = {c["Name"]: c["ContactID"] for c in made}

    def ctx(self) -> WriteContext:
        return WriteContext(self.org, self.state.clock.now(), "tester", "Test App")

    def write_with(
        self,
        rules: ResourceRules,
        elements: list[dict],
        mode: str = "put",
        target: dict | None = None,
        summarize: bool = True,
    ) -> Outcome:
        """``service.write_records`` as an HTTP PUT/POST would call it, answered as the
        HTTP layer answers it."""
        ctx = self.ctx()
        return outcome_of(
            lambda: service.write_records(
                ctx, rules, elements, mode=mode, summarize_errors=summarize, target=target
            ),
            ctx.app_name,
            ctx.now,
        )


def messages(outcome: Outcome) -> list[str]:
    """Every ValidationErrors message of a 400 ValidationException body."""
    assert outcome.status == 400, outcome.body
    assert outcome.body["Type"] == "ValidationException"
    return [m["Message"] for e in outcome.body["Elements"] for m in e["ValidationErrors"]]
