"""Xero's own Python SDK (xero-python), pointed at the sandbox, works as against Xero.

The SDK is strict about shapes: it deserialises every response into its generated
models, so this is an independent check that the sandbox speaks Xero's wire format.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from xero_python.accounting import AccountingApi, Contact, Contacts, Invoice, Invoices, LineItem
from xero_python.accounting import Contact as ContactRef
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException, NotFoundException
from xero_python.identity import IdentityApi

from xero_sandbox.testing import authorization_code_tokens

SCOPES = (
    "openid profile email offline_access "
    "accounting.contacts accounting.transactions accounting.settings "
    "accounting.journals.read accounting.reports.read accounting.attachments"
)


def _api_client(client_id: str, client_secret: str, store: dict) -> ApiClient:
    """An SDK client with its own token (the SDK's Configuration() returns a copy of the
    first one ever built, so the token is set on the copy, not passed to the constructor)."""
    configuration = Configuration()
    configuration.oauth2_token = OAuth2Token(client_id=client_id, client_secret=client_secret)
    client = ApiClient(configuration, pool_threads=1)
    client.oauth2_token_getter(lambda: store.get("token"))
    client.oauth2_token_saver(lambda token: store.__setitem__("token", token))
    return client


@pytest.fixture
def sdk(sandbox, monkeypatch: pytest.MonkeyPatch):
    """An SDK ApiClient that completed the code flow against the sandbox."""
    for attribute in ("refresh_token_url", "client_credentials_token_url"):
        monkeypatch.setattr(TokenApi, attribute, sandbox.url + "/connect/token")
    monkeypatch.setattr(TokenApi, "revoke_token_url", sandbox.url + "/connect/revocation")
    demo = sandbox.demo
    store: dict = {}
    client = _api_client(demo.web_client_id, demo.web_client_secret, store)
    token = authorization_code_tokens(
        sandbox.url, demo.web_client_id, demo.web_client_secret, demo.redirect_uri, SCOPES
    )
    client.set_oauth2_token(token)
    return client, store


def _accounting(sandbox, client) -> AccountingApi:
    return AccountingApi(client, base_url=sandbox.url + "/api.xro/2.0")


def test_sdk_lists_connections_and_refreshes(sandbox, sdk) -> None:
    client, store = sdk
    connections = IdentityApi(client, base_url=sandbox.url).get_connections()
    assert {c.tenant_name for c in connections} == {
        sandbox.demo.tenant_name,
        sandbox.demo.second_tenant_name,
    }
    old_refresh = store["token"]["refresh_token"]
    client.refresh_oauth2_token()
    assert store["token"]["refresh_token"] != old_refresh
    assert sandbox.control("GET", "/identity/stats").json()["refresh_token"] == 1


def test_sdk_creates_and_reads_contacts_and_invoices(sandbox, sdk) -> None:
    client, _ = sdk
    api = _accounting(sandbox, client)
    tenant = sandbox.demo.tenant_id
    created = api.create_contacts(
        tenant, Contacts(contacts=[Contact(name="SDK Stationers", email_address="sdk@example.com")])
    )
    contact_id = created.contacts[0].contact_id
    fetched = api.get_contact(tenant, contact_id).contacts[0]
    assert fetched.name == "SDK Stationers"
    assert fetched.contact_groups == []  # Xero sends the empty list; code indexes it
    invoice = Invoice(
        type="ACCREC",
        contact=ContactRef(contact_id=contact_id),
        status="AUTHORISED",
        line_items=[
            LineItem(
                description="Paper",
                quantity=4,
                unit_amount=12.5,
                account_code="200",
                tax_type="OUTPUT2",
            )
        ],
    )
    made = api.create_invoices(tenant, Invoices(invoices=[invoice])).invoices[0]
    assert float(made.total) == pytest.approx(57.5)
    fetched = api.get_invoice(tenant, made.invoice_id).invoices[0]
    assert fetched.invoice_number == made.invoice_number
    assert fetched.contact.contact_id == contact_id
    assert fetched.date is not None and fetched.updated_date_utc is not None


def test_sdk_pages_contacts(sandbox, sdk) -> None:
    client, _ = sdk
    sandbox.control(
        "POST",
        "/generate",
        json={"tenant_id": sandbox.demo.tenant_id, "resource": "Contacts", "count": 120},
    )
    api = _accounting(sandbox, client)
    first = api.get_contacts(sandbox.demo.tenant_id, page=1, page_size=100)
    second = api.get_contacts(sandbox.demo.tenant_id, page=2, page_size=100)
    assert len(first.contacts) == 100
    assert first.pagination.item_count == len(first.contacts) + len(second.contacts)
    assert not {c.contact_id for c in first.contacts} & {c.contact_id for c in second.contacts}


def test_sdk_filters_with_if_modified_since(sandbox, sdk) -> None:
    client, _ = sdk
    api = _accounting(sandbox, client)
    since = datetime.now(UTC) + timedelta(days=2)
    sandbox.control("PUT", "/clock", json={"now": (since + timedelta(minutes=5)).isoformat()})
    client.refresh_oauth2_token()  # a fresh access token on the moved clock
    api.create_contacts(
        sandbox.demo.tenant_id, Contacts(contacts=[Contact(name="Freshly Changed")])
    )
    changed = api.get_contacts(sandbox.demo.tenant_id, if_modified_since=since.replace(tzinfo=None))
    assert [c.name for c in changed.contacts] == ["Freshly Changed"]


def test_sdk_gets_xeros_validation_error_for_an_invalid_invoice(sandbox, sdk) -> None:
    client, _ = sdk
    api = _accounting(sandbox, client)
    bad = Invoice(
        type="ACCREC",
        status="AUTHORISED",
        line_items=[
            LineItem(description="No contact", quantity=1, unit_amount=10, account_code="200")
        ],
    )
    with pytest.raises(AccountingBadRequestException) as caught:
        api.create_invoices(sandbox.demo.tenant_id, Invoices(invoices=[bad]))
    assert caught.value.status == 400
    body = caught.value.error_data
    assert body["Type"] == "ValidationException"
    assert "Contact" in caught.value.reason


def test_sdk_sees_xeros_404(sandbox, sdk) -> None:
    client, _ = sdk
    with pytest.raises(NotFoundException):
        _accounting(sandbox, client).get_contact(
            sandbox.demo.tenant_id, "00000000-0000-0000-0000-000000000001"
        )


def test_sdk_client_credentials_for_a_custom_connection(
    sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenApi, "client_credentials_token_url", sandbox.url + "/connect/token")
    demo = sandbox.demo
    store: dict = {}
    client = _api_client(demo.custom_client_id, demo.custom_client_secret, store)
    client.get_client_credentials_token()
    assert "refresh_token" not in store["token"] or not store["token"].get("refresh_token")
    # A custom connection's token implies its one organisation: no tenant header needed.
    contacts = _accounting(sandbox, client).get_contacts("")
    assert contacts.contacts
