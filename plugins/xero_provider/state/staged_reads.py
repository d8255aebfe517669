"""Records a trigger read, kept for the task it wakes: no second read of Xero.

A deferred change sensor's trigger reads a range from Xero in the triggerer; the task that
resumes on a worker must deliver exactly those records without asking Xero again. A
small batch travels inside the ``TriggerEvent`` (see
:mod:`xero_provider.triggers.handover`); a larger one is staged here, under a random
token that the event carries, and the task takes it out.

Why this table and not Airflow's XCom object storage: a trigger has no task context to
push an XCom from, and the object storage backend is optional (it needs a configured
path); the token store's database is already shared by every worker and the triggerer
(watermarks live there), is transactional, and needs no extra setting.

A row holds the records as zlib-compressed JSON (Xero data only: no token, client secret
or other credential is ever put here), the range it belongs to (checked when taken), and
an expiry. Rows are removed when the task has delivered them, and any row past its expiry
is removed by the next :meth:`StagedReads.put`.
"""

from __future__ import annotations

import json
import secrets
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

STAGE_TTL = timedelta(days=1)  # a task resumed later than this reads its range again

metadata = sa.MetaData()
staged_table = sa.Table(
    "xero_staged_reads",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("range_key", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # zlib(JSON list of records)
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


class StageMismatch(ValueError):
    """A stage token names records of another range: never deliver them."""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StagedReads:
    """Staged trigger reads in the token store's database."""

    def __init__(self, url: str | None = None) -> None:
        self._store = TokenStore(url)
        self._store.ensure_tables(metadata)
        self.url = self._store.url

    @classmethod
    def for_config(cls, config: Any) -> StagedReads:
        """The store of a ``xero`` connection: the database its token store uses."""
        return cls(TokenStore.for_config(config).url)

    def put(self, range_key: str, records: list[dict[str, Any]], ttl: timedelta = STAGE_TTL) -> str:
        """Stage ``records`` of the range ``range_key``; return the token that takes them."""
        token = secrets.token_urlsafe(24)
        body = zlib.compress(json.dumps(records, separators=(",", ":")).encode("utf-8"))
        now = datetime.now(UTC)
        with self._store.transaction(write=True) as conn:
            conn.execute(sa.delete(staged_table).where(staged_table.c.expires_at < now))
            conn.execute(
                sa.insert(staged_table).values(
                    token=token,
                    range_key=range_key,
                    count=len(records),
                    body=body,
                    expires_at=now + ttl,
                )
            )
        return token

    def get(self, token: str, range_key: str) -> list[dict[str, Any]] | None:
        """The records staged under ``token``; None when gone or expired.

        :raises StageMismatch: the token belongs to another range.
        """
        with self._store.transaction(write=False) as conn:
            row = conn.execute(sa.select(staged_table).where(staged_table.c.token == token)).first()
        if row is None or _utc(row.expires_at) < datetime.now(UTC):
            return None
        if row.range_key != range_key:
            raise StageMismatch(
                f"staged read {token[:6]}...: holds the records of {row.range_key}, not of "
                f"{range_key}; refusing to deliver them"
            )
        records = json.loads(zlib.decompress(row.body))
        if len(records) != row.count:
            raise StageMismatch(f"staged read {token[:6]}...: {len(records)} of {row.count}")
        return records

    def discard(self, token: str) -> None:
        """Remove a stage once its task delivered it (a later retry reads Xero instead)."""
        with self._store.transaction(write=True) as conn:
            conn.execute(sa.delete(staged_table).where(staged_table.c.token == token))

    def count(self) -> int:
        """Rows held (tests and the benchmark check that delivered stages are gone)."""
        with self._store.transaction(write=False) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(staged_table)).scalar())
