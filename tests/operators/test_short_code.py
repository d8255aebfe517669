"""The organisation's short code for "Open in Xero" links is asked of Xero once per
organisation and kept in the provider's store: counted in the sandbox's request log."""

from __future__ import annotations

from typing import Any

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.operators.links import short_code
from xero_provider.state.organisations import OrganisationFacts


def _organisation_calls(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.requests(path="/api.xro/2.0/Organisation", method="GET")


def test_short_code_is_asked_once_per_organisation(sandbox, monkeypatch, tmp_path) -> None:
    store = tmp_path / "tokens.db"
    first = xero_connection(sandbox, monkeypatch, store)
    other_conn = xero_connection(sandbox, monkeypatch, store)  # the same organisation
    second_org = xero_connection(
        sandbox, monkeypatch, store, tenant_id=sandbox.demo.second_tenant_id
    )

    # ten operator runs on one connection, each with its own hook as a task has
    codes = [short_code(XeroHook(first)) for _ in range(10)]
    assert len(_organisation_calls(sandbox)) == 1
    assert len(set(codes)) == 1 and codes[0]

    assert short_code(XeroHook(other_conn)) == codes[0]  # another connection, same org
    assert len(_organisation_calls(sandbox)) == 1

    other = short_code(XeroHook(second_org))  # another organisation: its own code, once
    short_code(XeroHook(second_org))
    assert len(_organisation_calls(sandbox)) == 2
    assert other and other != codes[0]

    facts = OrganisationFacts(f"sqlite:///{store}")
    assert facts.short_code(sandbox.demo.tenant_id) == codes[0]
    facts.forget(sandbox.demo.tenant_id)  # forgotten: asked again, once
    assert short_code(XeroHook(first)) == codes[0]
    assert len(_organisation_calls(sandbox)) == 3
    organisation = XeroHook(first).call("GET", "Organisation")["Organisations"][0]
    assert codes[0] == organisation["ShortCode"]  # the kept value is Xero's
