"""``include_archived`` / ``include_deleted``: records Xero's lists hide, on request only.

The resource table's ``hidden_flag`` says which list takes which flag; it is checked here
against Xero's spec, and the hooks against the sandbox over HTTP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from tests.provider.connections import xero_connection
from xero_provider.exceptions import XeroInputError
from xero_provider.hooks import XeroAsyncHook, XeroHook
from xero_provider.resources import RESOURCES

SPEC = Path(__file__).resolve().parents[2] / "include/xero_sandbox/spec/xero_accounting.yaml"
FLAGS = ("includeArchived", "includeDeleted")


@pytest.fixture
def conn_id(sandbox, monkeypatch, tmp_path) -> str:
    return xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")


def test_hidden_flags_are_those_of_xero_spec() -> None:
    paths = yaml.safe_load(SPEC.read_text())["paths"]
    for resource in RESOURCES.values():
        parameters = paths[f"/{resource.path}"]["get"].get("parameters", [])
        names = {p.get("name") for p in parameters if isinstance(p, dict)}
        taken = [flag for flag in FLAGS if flag in names]
        assert taken == ([resource.hidden_flag] if resource.hidden_flag else []), resource.name


def _archive_a_contact(hook: XeroHook) -> str:
    contact = next(c for c in hook.iter_records("Contacts") if c.get("ContactStatus") == "ACTIVE")
    [result] = hook.update(
        "Contacts", [{"ContactID": contact["ContactID"], "ContactStatus": "ARCHIVED"}]
    )
    assert result.ok, result.errors
    return contact["ContactID"]


def test_archived_contact_is_listed_only_with_the_option(sandbox, conn_id) -> None:
    hook = XeroHook(conn_id)
    try:
        archived = _archive_a_contact(hook)
        plain = {c["ContactID"] for c in hook.iter_records("Contacts")}
        everything = {
            c["ContactID"]: c for c in hook.iter_records("Contacts", include_archived=True)
        }
        frame = hook.get_dataframe("Contacts", include_archived=True)
    finally:
        hook.close()
    assert archived not in plain
    assert everything[archived]["ContactStatus"] == "ARCHIVED"
    assert plain < set(everything)  # nothing else lost, the archived ones added
    assert archived in set(frame["ContactID"])
    queries = [r["query"] for r in sandbox.requests(path="/api.xro/2.0/Contacts", method="GET")]
    assert sum("includeArchived=true" in q for q in queries) == 2


def test_async_hook_lists_archived_contacts_only_with_the_option(sandbox, conn_id) -> None:
    sync_hook = XeroHook(conn_id)
    try:
        archived = _archive_a_contact(sync_hook)
    finally:
        sync_hook.close()

    async def scenario() -> tuple[set[str], set[str], set[str]]:
        hook = XeroAsyncHook(conn_id)
        try:
            plain = {c["ContactID"] async for c in hook.iter_records("Contacts")}
            everything = {
                c["ContactID"] async for c in hook.iter_records("Contacts", include_archived=True)
            }
            frame = await hook.get_dataframe("Contacts", include_archived=True)
            return plain, everything, set(frame["ContactID"])
        finally:
            await hook.aclose()

    plain, everything, framed = asyncio.run(scenario())
    assert archived not in plain
    assert archived in everything and archived in framed


def test_invoices_and_transfers_send_their_own_flag(sandbox, conn_id) -> None:
    hook = XeroHook(conn_id)
    try:
        sandbox.control("DELETE", "/requests")
        list(hook.iter_records("Bills", include_archived=True))
        list(hook.iter_records("BankTransfers", include_deleted=True))
    finally:
        hook.close()
    [bills] = sandbox.requests(path="/api.xro/2.0/Invoices", method="GET")
    [transfers] = sandbox.requests(path="/api.xro/2.0/BankTransfers", method="GET")
    assert "includeArchived=true" in bills["query"] and "ACCPAY" in bills["query"]
    assert "includeDeleted=true" in transfers["query"]
    assert "includeArchived" not in transfers["query"]


@pytest.mark.parametrize(
    ("resource", "option", "takers"),
    [
        ("Payments", "include_archived", "Bills, Contacts, Invoices"),
        ("BankTransfers", "include_archived", "TrackingCategories"),
        ("Contacts", "include_deleted", "only BankTransfers do"),
    ],
)
def test_unsupported_resource_is_refused_before_any_call(
    sandbox, conn_id, resource, option, takers
) -> None:
    hook = XeroHook(conn_id)
    sandbox.control("DELETE", "/requests")
    try:
        with pytest.raises(XeroInputError) as sync_error:
            list(hook.iter_records(resource, **{option: True}))
        with pytest.raises(XeroInputError):
            hook.get_dataframe(resource, **{option: True})
    finally:
        hook.close()

    async def scenario() -> None:
        hook = XeroAsyncHook(conn_id)
        try:
            async for _ in hook.iter_records(resource, **{option: True}):
                pass
        finally:
            await hook.aclose()

    with pytest.raises(XeroInputError) as async_error:
        asyncio.run(scenario())
    for error in (sync_error.value, async_error.value):
        assert f"{option}: Xero's {resource} list does not take" in str(error)
        assert takers in str(error)
        assert error.resource == resource
    assert sandbox.requests(path="/api.xro/2.0", method="GET") == []


@pytest.mark.parametrize("value", ["false", "true", 1, None])
def test_the_flags_take_only_booleans(sandbox, conn_id, value) -> None:
    # "false" is truthy: without the check it would list archived contacts
    hook = XeroHook(conn_id)
    sandbox.control("DELETE", "/requests")
    try:
        with pytest.raises(XeroInputError, match="include_archived: give True or False"):
            list(hook.iter_records("Contacts", include_archived=value))
    finally:
        hook.close()
    assert sandbox.requests(path="/api.xro/2.0", method="GET") == []
