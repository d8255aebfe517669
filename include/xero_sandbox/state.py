"""Everything the sandbox knows, in one object the HTTP layer and the control API share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xero_sandbox.clock import Clock
from xero_sandbox.faults import FaultPlan
from xero_sandbox.idempotency import IdempotencyCache
from xero_sandbox.identity import IdentityService
from xero_sandbox.limits import RateLimiter
from xero_sandbox.organisation import Organisation
from xero_sandbox.request_log import RequestLog


class SandboxState:
    """Organisations, identity, limits, faults, idempotency and the request log."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.orgs: dict[str, Organisation] = {}
        self.identity = IdentityService(self.clock, self.orgs)
        self.limits = RateLimiter(self.clock)
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self.idempotency = IdempotencyCache(self.clock)
        self.validator: Any = None  # a spec validator when started with --validate
        self.violations: list[dict[str, Any]] = []
        self.dirty = False  # a write happened since the last save (--db)
        self.restored = False  # state came from a --db file
        self.shutdown_hooks: list[Callable[[], None]] = []

    def reset(self) -> None:
        """Forget all data, apps, tokens, limits, faults and logs; real time again."""
        self.orgs.clear()
        self.identity.reset()
        self.limits.reset()
        self.faults.clear()
        self.requests.clear()
        self.idempotency.reset()
        self.clock.reset()

    def org(self, tenant_id: str) -> Organisation | None:
        return self.orgs.get(tenant_id.lower())

    def add_org(self, org: Organisation) -> Organisation:
        org.tenant_id = org.tenant_id.lower()
        self.orgs[org.tenant_id] = org
        return org
