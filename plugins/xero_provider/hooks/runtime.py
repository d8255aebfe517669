"""What a hook derives from its connection, built once per hook: the parsed config, the
token store and manager, pacing, the rate budget, call slots, the write ledger, the
egress tally, and where a URL may go (credentials never leave the API base)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from xero_provider.auth.tokens import TokenManager, XeroAuth, is_under
from xero_provider.config import ACCOUNTING_PATH, XeroConnectionConfig
from xero_provider.exceptions import XeroForeignHostError, XeroInputError
from xero_provider.formats import tenant_key
from xero_provider.hooks.pacing import RateGovernor, governor_for
from xero_provider.resources import Resource
from xero_provider.state.call_slots import LEASE_MARGIN_SECONDS, CallSlots, slots_for
from xero_provider.state.egress import EgressLog, EgressTally
from xero_provider.state.rate_budget import Limits, RateBudget, budget_for
from xero_provider.state.token_store import TokenStore
from xero_provider.state.write_ledger import WriteLedger

log = logging.getLogger("xero_provider.hooks.xero")  # where these lines always were
_UNSAFE_PATH = re.compile(r"\.\.|\\|@|%2e|%2f|%5c", re.IGNORECASE)
USER_AGENT = "airflow-provider-xero/0.1"


@dataclass
class Runtime:
    """Everything a hook derives from its parsed connection, built once per hook."""

    config: XeroConnectionConfig
    tenant_id: str | None
    store: TokenStore
    tokens: TokenManager
    governor: RateGovernor
    budget: RateBudget
    slots: CallSlots
    _ledger: WriteLedger | None = field(default=None, repr=False)
    tally: EgressTally = field(default_factory=EgressTally, repr=False)

    @classmethod
    def build(cls, config: XeroConnectionConfig, tenant_id: str | None) -> Runtime:
        store = TokenStore.for_config(config)
        limits = Limits.from_config(config)
        return cls(
            config=config,
            tenant_id=tenant_id,
            store=store,
            tokens=TokenManager(config, store),
            governor=governor_for(config.rate_window_seconds),
            budget=budget_for(store, config.client_id, limits),
            slots=slots_for(
                store,
                config.client_id,
                config.concurrent_calls,
                config.timeout + LEASE_MARGIN_SECONDS,
            ),
        )

    @property
    def ledger(self) -> WriteLedger:
        if self._ledger is None:
            self._ledger = WriteLedger(self.store, self.config.ledger_retention_days)
        return self._ledger

    @property
    def tenant_key(self) -> str:
        return tenant_key(self.tenant_id, self.config.client_id)

    def count_egress(self, resource: Resource | None, url: str, response: httpx.Response) -> None:
        """Tally one answer's bytes under its resource (no I/O: flushed on close)."""
        if resource is not None:
            label = resource.path
        else:
            path = httpx.URL(url).path
            tail = path.split(ACCOUNTING_PATH, 1)[-1] if ACCOUNTING_PATH in path else path
            label = next((p for p in tail.split("/") if p), "(root)")
        self.tally.count(label, len(response.content), response.num_bytes_downloaded)

    def flush_egress(self) -> None:
        """Add this hook's tally to the shared egress log and say what it came to.

        Never fails the task: the figures are for people, the data already arrived.
        """
        taken = self.tally.take()
        if not taken:
            return
        total = sum(c.bytes for c in taken.values())
        calls = sum(c.calls for c in taken.values())
        parts = ", ".join(
            f"{name} {c.bytes / 1e6:.2f} MB"
            for name, c in sorted(taken.items(), key=lambda kv: -kv[1].bytes)[:6]
        )
        try:
            log_table = EgressLog(self.store)
            log_table.add(self.config.client_id, self.tenant_key, taken)
            usage = log_table.usage(self.config.client_id, self.tenant_key).describe()
        except Exception as error:  # the database is down: still say what this hook read
            usage = f"not recorded ({type(error).__name__})"
        log.info(
            "Xero egress for %s: %.2f MB in %d calls (%s); organisation %s",
            self.tenant_key,
            total / 1e6,
            calls,
            parts,
            usage,
        )

    def client_options(self) -> dict[str, Any]:
        config = self.config
        return {
            "base_url": config.accounting_url,
            "auth": XeroAuth(self.tokens, self.tenant_id, allowed_base=config.api_base_url),
            "timeout": config.timeout,
            "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
        }

    def target(self, url: str) -> str:
        """The absolute URL for ``url`` (relative: under the Accounting API), refused when it
        lies outside the connection's API base, so credentials never leave Xero."""
        if not url.strip("/"):
            raise XeroInputError("path: empty; name an endpoint like 'Organisation'")
        if "://" not in url and not url.startswith(("/", "\\")) and not _UNSAFE_PATH.search(url):
            return f"{self.config.accounting_url}/{url}"  # the hot path: a plain relative path
        parsed = httpx.URL(url)
        if parsed.is_absolute_url or parsed.host or url.startswith("//"):
            absolute = parsed
        else:
            absolute = httpx.URL(self.config.accounting_url + "/" + url.lstrip("/"))
        if not is_under(absolute, httpx.URL(self.config.api_base_url)):
            raise XeroForeignHostError(
                f"refusing to call {absolute.scheme}://{absolute.host}{absolute.path}: the "
                f"connection's credentials only go to its API base {self.config.api_base_url}"
            )
        return str(absolute)
