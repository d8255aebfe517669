"""Read and write ``xero`` connections in Airflow's metadata database.

Only the api-server (the connect page) and the command line (``python -m
xero_provider.auth connect``) call this: both run where Airflow's database is, like
``airflow connections add``. Tasks never do; Airflow 3 forbids them database access.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from xero_provider.exceptions import XeroConfigurationError

CONN_TYPE = "xero"
# The extra fields that locate a grant's tokens: new names first, then the old ones.
GRANT_KEY_FIELDS = ("grant_key", "token_key")
STORE_FIELDS = ("credential_store", "token_store")
# The organisation directory: one Airflow Variable listing every ``xero`` connection with
# the extra fields that name its DAGs. A DAG file cannot list connections while the
# dag-processor parses it (Airflow 3 blocks its database access; the Task SDK fetches a
# connection only by id), and a task's worker parses its DAG file again before running it:
# one Variable is one lookup there, however many organisations there are.
DIRECTORY_VARIABLE = "xero_organisations"
DIRECTORY_FIELDS = ("tenant_id", "tenant_name", "dag_key")


@dataclass(frozen=True)
class StoredConnection:
    """A ``xero`` connection as the connect page needs it; ``repr`` shows no secret."""

    conn_id: str
    client_id: str
    has_secret: bool
    extra: dict[str, Any] = field(repr=False)
    description: str | None = None

    @property
    def tenant_id(self) -> str | None:
        return _first(self.extra, ("tenant_id",))

    @property
    def tenant_name(self) -> str | None:
        return _first(self.extra, ("tenant_name",))

    @property
    def grant_key(self) -> str:
        """The key its tokens are stored under (the connection id when none is set)."""
        return _first(self.extra, GRANT_KEY_FIELDS) or self.conn_id

    @property
    def store(self) -> str | None:
        return _first(self.extra, STORE_FIELDS)


def _first(extra: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = extra.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _extra_of(conn: Any) -> dict[str, Any]:
    try:
        value = json.loads(conn.extra or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _session():
    from airflow.utils.session import create_session

    return create_session()


def check_database() -> None:
    """Raise a clear error when Airflow's metadata database cannot hold connections."""
    import sqlalchemy as sa
    from airflow.configuration import conf
    from airflow.models.connection import Connection

    try:
        with _session() as session:
            session.execute(sa.select(Connection.id).limit(1))
    except Exception as error:
        url = conf.get("database", "sql_alchemy_conn", fallback="?")
        shown = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
        raise XeroConfigurationError(
            f"Airflow's metadata database ({shown}) cannot store connections "
            f"({type(error).__name__}); run `airflow db migrate` with the same AIRFLOW_HOME "
            "and [database] settings as your Airflow, then try again"
        ) from None


def list_connections() -> list[StoredConnection]:
    """Every ``xero`` connection in the metadata database, sorted by id."""
    import sqlalchemy as sa
    from airflow.models.connection import Connection

    with _session() as session:
        rows = session.scalars(sa.select(Connection).where(Connection.conn_type == CONN_TYPE)).all()
        return sorted(
            (
                StoredConnection(
                    conn_id=row.conn_id,
                    client_id=row.login or "",
                    has_secret=bool(row.password),
                    extra=_extra_of(row),
                    description=row.description,
                )
                for row in rows
            ),
            key=lambda c: c.conn_id,
        )


def get_connection(conn_id: str) -> StoredConnection | None:
    return next((c for c in list_connections() if c.conn_id == conn_id), None)


def sharing_grant(conn: StoredConnection) -> list[StoredConnection]:
    """Connections whose tokens are the same grant's (same store and key, same client)."""
    return [
        other
        for other in list_connections()
        if other.grant_key == conn.grant_key
        and other.store == conn.store
        and other.client_id == conn.client_id
    ]


def secret_of(conn_id: str) -> str | None:
    """The client secret of a stored connection (decrypted by Airflow), for the token calls."""
    import sqlalchemy as sa
    from airflow.models.connection import Connection

    with _session() as session:
        row = session.scalars(sa.select(Connection).where(Connection.conn_id == conn_id)).first()
        return row.password if row is not None else None


@dataclass(frozen=True)
class ConnectionSpec:
    """One ``xero`` connection to create or update; ``repr`` never shows the secret."""

    conn_id: str
    client_id: str
    client_secret: str | None = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def upsert_many(specs: list[ConnectionSpec]) -> list[bool]:
    """Create or update connections in one transaction: all of them or none.

    An update keeps the connection's other extra fields (timeouts, ...) and its secret
    when none is given. Returns, per spec, whether it was created.
    """
    import sqlalchemy as sa
    from airflow.models.connection import Connection

    created_flags = []
    with _session() as session:
        for spec in specs:
            row = session.scalars(
                sa.select(Connection).where(Connection.conn_id == spec.conn_id)
            ).first()
            created = row is None
            if row is None:
                row = Connection(conn_id=spec.conn_id, conn_type=CONN_TYPE)
                session.add(row)
            elif row.conn_type != CONN_TYPE:
                raise XeroConfigurationError(
                    f"connection '{spec.conn_id}' exists and is of type {row.conn_type!r}, "
                    "not xero; choose another connection id prefix"
                )
            merged = {**(_extra_of(row) if not created else {}), **spec.extra}
            for old, new in (("token_key", "grant_key"), ("token_store", "credential_store")):
                if new in merged:
                    merged.pop(old, None)
            row.login = spec.client_id
            if spec.client_secret:
                row.password = spec.client_secret
            row.set_extra(json.dumps(merged))
            row.description = spec.description
            created_flags.append(created)
        session.flush()
        _sync_directory(session)
    return created_flags


def all_conn_ids() -> set[str]:
    """Every connection id in the metadata database, of any type."""
    import sqlalchemy as sa
    from airflow.models.connection import Connection

    with _session() as session:
        return set(session.scalars(sa.select(Connection.conn_id)))


def delete(conn_id: str) -> bool:
    """Delete a connection; False when there was none."""
    import sqlalchemy as sa
    from airflow.models.connection import Connection

    with _session() as session:
        deleted = bool(
            session.execute(sa.delete(Connection).where(Connection.conn_id == conn_id)).rowcount
        )
        _sync_directory(session)
        return deleted


def sync_directory() -> dict[str, list[str]]:
    """Make the organisation directory list exactly the ``xero`` connections.

    The connect page and ``connect``/``disconnect`` keep it in step themselves (in the
    transaction that writes the connection); this is for connections made another way
    (Airflow's own form, ``airflow connections add/import``). Returns what it changed.
    """
    with _session() as session:
        return _sync_directory(session)


def _sync_directory(session: Any) -> dict[str, list[str]]:
    """Rewrite the directory from the connections, in ``session`` (the caller's transaction).

    The directory's row is locked before the connections are read, so two connects at
    once write it one after the other, each from every connection committed before it.
    """
    import sqlalchemy as sa
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable

    row = session.scalars(
        sa.select(Variable).where(Variable.key == DIRECTORY_VARIABLE).with_for_update()
    ).first()
    if row is None:
        row = Variable(key=DIRECTORY_VARIABLE, val="{}", description=DIRECTORY_DESCRIPTION)
        session.add(row)
        session.flush()
    try:
        before = json.loads(row.val or "{}")
    except ValueError:
        before = {}
    rows = session.scalars(sa.select(Connection).where(Connection.conn_type == CONN_TYPE)).all()
    directory = {}
    for conn in sorted(rows, key=lambda c: c.conn_id):
        extra = _extra_of(conn)
        directory[conn.conn_id] = {k: extra[k] for k in DIRECTORY_FIELDS if extra.get(k)}
    if directory != before:
        row.val = json.dumps(directory, sort_keys=True)
        # the DAG files read the directory: have them parsed now, not at the next cycle
        from xero_provider.connect.reparse import request_reparse

        request_reparse(session)
    return {
        "added": sorted(set(directory) - set(before)),
        "removed": sorted(set(before) - set(directory)),
    }


DIRECTORY_DESCRIPTION = (
    "The xero connections the example DAGs build DAGs for (kept by the Xero connect page "
    "and CLI; `python -m xero_provider.connect organisations` rebuilds it)"
)


def new_conn_id(prefix: str, tenant_name: str, taken: set[str]) -> str:
    """``<prefix>_<organisation name>`` in Airflow's id alphabet, unique among ``taken``."""
    slug = re.sub(r"[^a-z0-9]+", "_", tenant_name.lower()).strip("_")[:60] or "organisation"
    base = f"{prefix}_{slug}" if prefix else slug
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    return candidate
