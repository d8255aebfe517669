"""Everything the sandbox knows, in one object the HTTP layer and the control API share."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from xero_sandbox.accounting.journals import post_change
from xero_sandbox.clock import Clock
from xero_sandbox.egress import EgressMeter
from xero_sandbox.faults import FaultPlan
from xero_sandbox.idempotency import IdempotencyCache
from xero_sandbox.identity import IdentityService
from xero_sandbox.limits import RateLimiter
from xero_sandbox.organisation import Organisation
from xero_sandbox.request_log import RequestLog
from xero_sandbox.webhooks import WebhookService


class SandboxState:
    """Organisations, identity, limits, faults, idempotency and the request log."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.orgs: dict[str, Organisation] = {}
        self.identity = IdentityService(self.clock, self.orgs)
        self.limits = RateLimiter(self.clock)
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self.egress = EgressMeter()
        self.idempotency = IdempotencyCache(self.clock)
        self.webhooks = WebhookService(self.identity.connected_tenants)
        self.webhooks.check = self._check_webhook
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
        self.egress.reset()
        self.idempotency.reset()
        self.webhooks.reset()
        self.clock.reset()

    def org(self, tenant_id: str) -> Organisation | None:
        return self.orgs.get(tenant_id.lower())

    def add_org(self, org: Organisation) -> Organisation:
        org.tenant_id = org.tenant_id.lower()
        org.listener = self._changed
        self.orgs[org.tenant_id] = org
        return org

    def _check_webhook(self, body: bytes) -> None:
        """Record a webhook payload that breaks xero-webhooks.yaml (only with --validate)."""
        if self.validator is None:
            return
        from xero_sandbox.conformance import webhook_errors

        errors = webhook_errors(json.loads(body))
        if errors:
            self.violations.append({"method": "WEBHOOK", "path": "", "error": "; ".join(errors)})

    def _changed(
        self,
        org: Organisation,
        resource: str,
        record: dict[str, Any],
        previous: dict[str, Any] | None,
    ) -> None:
        """A committed write: post its journals, queue its webhook event."""
        now = self.clock.now()
        post_change(org, resource, record, previous, now)
        self.webhooks.record(
            org.tenant_id, org.tenant_type, resource, record, previous is None, now
        )
