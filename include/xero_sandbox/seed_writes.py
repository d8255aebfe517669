"""How seeds write records: through each resource's own rules, all or nothing.

Below both the seed loader (:mod:`.seed`) and the demo data (``demo_*.py``), so neither
has to import the other from inside a function to break a loop.
"""

from __future__ import annotations

import json

from xero_sandbox.accounting import service
from xero_sandbox.accounting.base import WriteContext
from xero_sandbox.accounting.registry import rules_for
from xero_sandbox.errors import ElementsRejected
from xero_sandbox.organisation import Organisation
from xero_sandbox.state import SandboxState


class SeedError(ValueError):
    """A seed that names an unknown organisation or resource, or holds invalid records."""


def context(state: SandboxState, org: Organisation) -> WriteContext:
    return WriteContext(org=org, now=state.clock.now(), user="seed", app_name="Xero sandbox seed")


def write(state: SandboxState, org: Organisation, resource: str, records: list[dict]) -> list[dict]:
    """Create records through the resource's rules; a rejected record is a SeedError."""
    rules = rules_for(resource)
    if rules is None:
        raise SeedError(f"unknown resource '{resource}'")
    with org.transaction():  # a seed is all or nothing, unlike a Xero batch
        try:
            result = service.write_records(
                context(state, org), rules, records, mode="post", summarize_errors=True
            )
        except ElementsRejected as rejected:
            raise SeedError(f"{resource} rejected: {json.dumps(rejected.body())[:2000]}") from None
    return result.records
