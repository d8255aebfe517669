"""Contacts: create, update, get, and the upsert the seed actions lack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from xero_provider.exceptions import RecordProblem, RecordResult
from xero_provider.hooks.xero import XeroHook
from xero_provider.operators.base import XeroBatchWriteOperator
from xero_provider.operators.generic import XeroCreateOperator, XeroGetOperator, XeroUpdateOperator
from xero_provider.operators.run_records import Recorded
from xero_provider.operators.validation import (
    CONTACT_CREATE,
    CONTACT_UPDATE,
    CONTACT_UPSERT,
    is_missing,
)

MATCH_CHUNK = 25  # values per where filter when looking contacts up
MATCH_ORDER = ("ContactNumber", "EmailAddress", "Name")


class XeroCreateContactOperator(XeroCreateOperator):
    """Create contacts (``PUT /Contacts``). Xero refuses a Name or ContactNumber in use."""

    resource_name = "Contacts"
    schema = CONTACT_CREATE


class XeroUpdateContactOperator(XeroUpdateOperator):
    """Update contacts named by ``ContactID`` or ``ContactNumber`` (``POST /Contacts``)."""

    resource_name = "Contacts"
    schema = CONTACT_UPDATE


class XeroGetContactOperator(XeroGetOperator):
    """Read contacts by ``ContactID`` or ``ContactNumber``."""

    resource_name = "Contacts"


class XeroUpsertContactOperator(XeroBatchWriteOperator):
    """Create each contact, or update the one Xero already has: no hand-built "if exists".

    Matching, for a record without ``ContactID``, tries in order: ``ContactNumber``
    (exact; Xero keeps it unique), ``EmailAddress`` (case-insensitive), ``Name``
    (case-insensitive; Xero wants unique names). Archived contacts take part (the lookup
    asks with ``includeArchived=true``), so a record never makes a second contact beside
    an archived one: a matched archived contact is updated and stays archived unless the
    record sets ``ContactStatus``. When an email
    matches several contacts, a single ACTIVE one wins; otherwise the record is rejected
    as ambiguous, naming the candidates. Two input records matching the same key are one
    contact: the second is rejected, never written twice.

    A matched contact that already holds every value the record sets is not written
    (nothing changes in Xero, ``UpdatedDateUTC`` stays put); its result says ``UNCHANGED``.
    XCom ``upsert`` holds ``created``, ``updated`` and ``unchanged`` lists of indexes; a
    retry or rerun reports the records an earlier try wrote as that try did.

    :param match_on: the keys to try, in order (default: ContactNumber, EmailAddress, Name).
    """

    resource_name = "Contacts"
    schema = CONTACT_UPSERT

    def __init__(self, *, match_on: tuple[str, ...] = MATCH_ORDER, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = set(match_on) - set(MATCH_ORDER)
        if unknown or not match_on:
            raise ValueError(f"match_on must be some of {MATCH_ORDER}, got {match_on!r}")
        self.match_on = tuple(match_on)
        self._matched: dict[int, str] = {}
        self._current: dict[int, dict] = {}
        self._created: list[int] = []
        self._updated: list[int] = []
        self._unchanged: list[int] = []

    def check_with_xero(self, hook: XeroHook, rows: list[Any]) -> list[RecordProblem]:
        """Find each record's contact; ambiguous and duplicate records are problems."""
        self._matched, self._current = {}, {}
        problems: list[RecordProblem] = []
        existing = self._lookup(hook, rows)
        claimed: dict[tuple[str, str], int] = {}
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                continue
            if row.get("ContactID") and not is_missing(row.get("ContactID")):
                self._matched[index] = str(row["ContactID"])
                continue
            duplicate = False
            for key in self.match_on:
                value = _key_value(row, key)
                if value is None:
                    continue
                if '"' in value or "\\" in value:
                    problems.append(
                        RecordProblem(
                            "cannot be matched: a double quote or backslash cannot go into "
                            "Xero's where filter; set ContactID instead",
                            index,
                            None,
                            key,
                        )
                    )
                    duplicate = True
                    break
                if (key, value) in claimed:
                    problems.append(
                        RecordProblem(
                            f"same {key} as records[{claimed[(key, value)]}]; one contact is "
                            "written once per run",
                            index,
                            None,
                            key,
                        )
                    )
                    duplicate = True
                    break
                claimed[(key, value)] = index
            if duplicate:
                continue
            for key in self.match_on:
                value = _key_value(row, key)
                candidates = existing.get((key, value), []) if value is not None else []
                if not candidates:
                    continue
                chosen = _choose(candidates)
                if chosen is None:
                    ids = ", ".join(c["ContactID"] for c in candidates)
                    problems.append(
                        RecordProblem(
                            f"{len(candidates)} contacts have this {key} ({ids}); set ContactID "
                            "or ContactNumber to say which",
                            index,
                            None,
                            key,
                        )
                    )
                else:
                    self._matched[index] = chosen["ContactID"]
                    self._current[index] = chosen
                break
        return problems

    def _lookup(self, hook: XeroHook, rows: list[Any]) -> dict[tuple[str, str], list[dict]]:
        """Existing contacts (archived too) by (key, lower-case value)."""
        found: dict[tuple[str, str], list[dict]] = {}
        for key in self.match_on:
            values = sorted(
                {v for row in rows if isinstance(row, Mapping) for v in [_raw(row, key)] if v}
            )
            values = [v for v in values if '"' not in v and "\\" not in v]  # refused above
            for start in range(0, len(values), MATCH_CHUNK):
                part = values[start : start + MATCH_CHUNK]
                where = _match_where(key, part)
                page = 1
                while True:
                    body = hook.call(
                        "GET",
                        "Contacts",
                        params={"where": where, "includeArchived": "true", "page": str(page)},
                    )
                    contacts = (body or {}).get("Contacts") or []
                    for contact in contacts:
                        value = _key_value(contact, key)
                        if value is not None:
                            found.setdefault((key, value), []).append(contact)
                    if len(contacts) < 100 or page >= 50:
                        break
                    page += 1
        return found

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        creates = [(i, row) for i, row in todo if i not in self._matched]
        updates: list[tuple[int, Any]] = []
        results: list[RecordResult] = []
        for i, row in todo:
            if i not in self._matched:
                continue
            current = self._current.get(i)
            if current is not None and _unchanged(row, current):
                # Xero already holds these values: no write, so UpdatedDateUTC stays put and
                # change sensors do not deliver the contact again.
                results.append(RecordResult(i, True, self._matched[i], current, [], "UNCHANGED"))
                self._unchanged.append(i)
            else:
                updates.append((i, {**row, "ContactID": self._matched[i]}))
        self.update = False
        results += super().send(hook, creates, key)
        if updates and (self.on_error == "continue" or all(r.ok for r in results)):
            # chunk keys follow the records (run_records), so a retry that now finds the
            # contacts an earlier try created does not collide with that try's chunks
            self.update = True
            results += super().send(hook, updates, key)
        self._created += [i for i, _ in creates]
        self._updated += [i for i, _ in updates]
        return results

    def _reuse(self, hook: XeroHook, earlier: dict[int, Recorded]) -> list[RecordResult]:
        """An earlier try's records count as created or updated as that try sent them."""
        for i, rec in earlier.items():
            (self._created if rec.op == "create" else self._updated).append(i)
        return super()._reuse(hook, earlier)

    def execute(self, context: Any) -> list[str]:
        self._created, self._updated, self._unchanged = [], [], []
        ids = super().execute(context)
        context["ti"].xcom_push(
            key="upsert",
            value={
                "created": sorted(self._created),
                "updated": sorted(self._updated),
                "unchanged": sorted(self._unchanged),
            },
        )
        return ids


def _same(wanted: Any, have: Any) -> bool:
    """Whether Xero's value already is the record's (text exactly, numbers by value, objects
    by the fields the record gives; a list is always sent)."""
    if isinstance(wanted, Mapping):
        return isinstance(have, Mapping) and all(_same(v, have.get(k)) for k, v in wanted.items())
    if isinstance(wanted, bool) or isinstance(have, bool):
        return wanted is have or (isinstance(have, bool) and wanted == have)
    if isinstance(wanted, int | float) and isinstance(have, int | float):
        return float(wanted) == float(have)
    if isinstance(wanted, str) and isinstance(have, str):
        return wanted == have
    return False


def _unchanged(row: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Every field the record sets already has that value in Xero."""
    fields = {k: v for k, v in row.items() if k != "ContactID" and not is_missing(v)}
    return all(_same(v, current.get(k)) for k, v in fields.items())


def _match_where(key: str, values: list[str]) -> str:
    """``ContactNumber`` compared exactly; email and name case-insensitively, null-safe
    (Xero's docs guard string methods with ``!=null``)."""
    if key == "ContactNumber":
        return " OR ".join(f"{key}=={json.dumps(v)}" for v in values)
    either = " OR ".join(f"{key}.ToLower()=={json.dumps(v.lower())}" for v in values)
    return f"{key}!=null AND ({either})"


def _raw(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    if is_missing(value) or not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _key_value(row: Mapping[str, Any], key: str) -> str | None:
    value = _raw(row, key)
    if value is None:
        return None
    return value if key == "ContactNumber" else value.lower()


def _choose(candidates: list[dict]) -> dict | None:
    """One contact, or None when the match is ambiguous."""
    if len(candidates) == 1:
        return candidates[0]
    active = [c for c in candidates if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
    return active[0] if len(active) == 1 else None
