"""Facts about an organisation that do not change: kept once, not asked of Xero every run.

The "Open in Xero" deep links need the organisation's ``ShortCode`` (from ``GET
/Organisation``; developer.xero.com/documentation/api-guides/deep-link-xero). Xero
documents it as the organisation's short code used in its web app's URLs; it belongs to
the organisation, not to a grant, so one row per organisation (the tenant key of
:func:`xero_provider.formats.tenant_key`) serves every connection to it. Before this,
every operator run spent one call of the organisation's 5,000 a day on it.

The row lives in the token store's database (shared by every worker), filled on first
need; :meth:`OrganisationFacts.forget` drops it (e.g. a test that renames the sandbox's
organisation, or a user who wants it asked again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

metadata = sa.MetaData()
facts_table = sa.Table(
    "xero_organisation_facts",
    metadata,
    sa.Column("tenant", sa.String(255), primary_key=True),
    sa.Column("short_code", sa.String(64), nullable=True),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)


class OrganisationFacts:
    """Short codes (and names) of organisations, one row per tenant key."""

    def __init__(self, url: str | None = None) -> None:
        self._store = TokenStore(url)
        self._store.ensure_tables(metadata)

    @classmethod
    def for_config(cls, config: Any) -> OrganisationFacts:
        """The store of a ``xero`` connection: the database its token store uses."""
        return cls(TokenStore.for_config(config).url)

    def short_code(self, tenant: str) -> str | None:
        """The stored short code of ``tenant``; None when never fetched."""
        with self._store.transaction(write=False) as conn:
            row = conn.execute(
                sa.select(facts_table.c.short_code).where(facts_table.c.tenant == tenant)
            ).first()
        return row.short_code if row is not None else None

    def remember(self, tenant: str, short_code: str, name: str | None = None) -> None:
        """Store the short code of ``tenant`` (a concurrent first fetch wins; same value)."""
        if not short_code:
            raise ValueError("short_code: empty; Xero's Organisation has no ShortCode")
        statement = (
            self._store.insert(facts_table)
            .values(tenant=tenant, short_code=short_code, name=name, fetched_at=datetime.now(UTC))
            .on_conflict_do_update(
                index_elements=["tenant"],
                set_={"short_code": short_code, "name": name, "fetched_at": datetime.now(UTC)},
            )
        )
        with self._store.transaction(write=True) as conn:
            conn.execute(statement)

    def forget(self, tenant: str) -> None:
        with self._store.transaction(write=True) as conn:
            conn.execute(sa.delete(facts_table).where(facts_table.c.tenant == tenant))
