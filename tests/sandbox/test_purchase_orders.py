"""Purchase orders: existing contacts only, numbering and GET by number, the approval flow,
SentToContact, what a billed order refuses, list filters and no ``where``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from tests.sandbox.in_process import InProcessOrg, messages
from xero_sandbox.accounting import registry, service
from xero_sandbox.accounting.purchase_orders import RESOURCE_RULES, PurchaseOrderRules
from xero_sandbox.conformance import XeroSpec
from xero_sandbox.errors import ApiException
from xero_sandbox.responses import Outcome


class Env(InProcessOrg):
    """One organisation with two suppliers, and the purchase order rules registered."""

    def __init__(self) -> None:
        super().__init__(
            {"name": "Orders Ltd"},
            [{"Name": "PowerDirect"}, {"Name": "Office Supplies Co", "ContactNumber": "SUPP-2"}],
        )
        self.rules = PurchaseOrderRules()

    def write(self, elements: list[dict], mode: str = "put", target: dict | None = None):
        return self.write_with(self.rules, elements, mode, target)

    def create(self, **fields: Any) -> dict[str, Any]:
        outcome = self.write([order_body(self, **fields)])
        assert outcome.status == 200, outcome.body
        return outcome.body["PurchaseOrders"][0]

    def update(self, order: dict[str, Any], **fields: Any) -> Outcome:
        stored = self.org.get("PurchaseOrders", order["PurchaseOrderID"])
        return self.write([fields], mode="post", target=stored)

    def stored(self, order: dict[str, Any]) -> dict[str, Any]:
        return self.rules.render(self.org, self.org.get("PurchaseOrders", order["PurchaseOrderID"]))


def order_body(env: Env, **fields: Any) -> dict[str, Any]:
    body = {
        "Contact": {"ContactID": env.contacts["Office Supplies Co"]},
        "Date": "2026-03-02",
        "DeliveryDate": "2026-03-16",
        "LineItems": [
            {
                "Description": "Copier paper",
                "Quantity": 10,
                "UnitAmount": 38.5,
                "AccountCode": "429",
            }
        ],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    for cls in RESOURCE_RULES:
        monkeypatch.setitem(registry.RULES, cls.name.lower(), cls())
    return Env()


def order_in(env: Env, status: str) -> dict[str, Any]:
    if status in ("BILLED",):
        order = env.create(Status="AUTHORISED")
        assert env.update(order, Status="BILLED").status == 200
        return env.stored(order)
    if status == "DELETED":
        order = env.create()
        assert env.update(order, Status="DELETED").status == 200
        return env.stored(order)
    return env.create(Status=status)


# --------------------------------------------------------------------------- create


def test_create_numbers_orders_and_renders_xero_shape(env: Env) -> None:
    first = env.create()
    second = env.create(Status="AUTHORISED")
    assert (first["PurchaseOrderNumber"], second["PurchaseOrderNumber"]) == ("PO-0001", "PO-0002")
    assert first["Status"] == "DRAFT" and first["Type"] == "PURCHASEORDER"
    assert first["DeliveryDateString"] == "2026-03-16T00:00:00"
    assert first["LineAmountTypes"] == "Exclusive"
    assert (first["SubTotal"], first["TotalTax"], first["Total"]) == (385.0, 57.75, 442.75)
    assert first["Contact"]["Name"] == "Office Supplies Co"


def test_get_by_number_and_by_id(env: Env) -> None:
    order = env.create()
    by_number = service.get_record(env.org, env.rules, "po-0001")
    by_id = service.get_record(env.org, env.rules, order["PurchaseOrderID"])
    assert by_number is by_id


@pytest.mark.parametrize(
    "contact",
    [
        pytest.param({"Name": "office supplies co"}, id="by-name"),
        pytest.param({"ContactNumber": "SUPP-2"}, id="by-number"),
    ],
)
def test_contact_can_be_named_any_way_if_it_exists(env: Env, contact: dict) -> None:
    assert env.create(Contact=contact)["Contact"]["Name"] == "Office Supplies Co"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"Contact": None}, "identify the contact", id="no-contact"),
        pytest.param({"Contact": {"Name": "New Supplier"}}, "does not exist", id="new-contact"),
        pytest.param({"LineItems": None}, "LineItems must be specified", id="no-lines"),
        pytest.param(
            {"DeliveryInstructions": "x" * 501}, "DeliveryInstructions must be 500", id="long"
        ),
        pytest.param({"DeliveryDate": "next week"}, "not a valid date", id="bad-delivery-date"),
        pytest.param(
            {"Status": "BILLED"},
            "Status BILLED is not valid for a new purchase order",
            id="created-billed",
        ),
        pytest.param({"SentToContact": True}, "SentToContact can only be set", id="sent-draft"),
        pytest.param({"SentToContact": "yes"}, "true or false", id="sent-not-bool"),
    ],
)
def test_create_refuses_invalid_orders(env: Env, change: dict, fragment: str) -> None:
    before = len(env.org.table("Contacts"))
    errors = messages(env.write([order_body(env, **change)]))
    assert any(fragment in m for m in errors), errors
    assert env.org.table("PurchaseOrders") == {}
    assert len(env.org.table("Contacts")) == before


def test_sent_to_contact_on_an_approved_order(env: Env) -> None:
    assert env.create(Status="AUTHORISED", SentToContact=True)["SentToContact"] is True


def test_duplicate_number_refused(env: Env) -> None:
    env.create(PurchaseOrderNumber="PO-9")
    assert "already used" in messages(env.write([order_body(env, PurchaseOrderNumber="po-9")]))[0]


# --------------------------------------------------------------------------- status flow


@pytest.mark.parametrize(
    ("start", "target"),
    [
        pytest.param("DRAFT", "SUBMITTED", id="draft-submitted"),
        pytest.param("DRAFT", "AUTHORISED", id="draft-authorised"),
        pytest.param("DRAFT", "DELETED", id="draft-deleted"),
        pytest.param("SUBMITTED", "DRAFT", id="submitted-draft"),
        pytest.param("SUBMITTED", "AUTHORISED", id="submitted-authorised"),
        pytest.param("AUTHORISED", "BILLED", id="authorised-billed"),
        pytest.param("AUTHORISED", "DELETED", id="authorised-deleted"),
    ],
)
def test_allowed_status_changes(env: Env, start: str, target: str) -> None:
    order = order_in(env, start)
    assert env.update(order, Status=target).status == 200
    assert env.stored(order)["Status"] == target


@pytest.mark.parametrize(
    ("start", "target"),
    [
        pytest.param("DRAFT", "BILLED", id="draft-billed"),
        pytest.param("AUTHORISED", "DRAFT", id="authorised-draft"),
        pytest.param("BILLED", "AUTHORISED", id="billed-is-final"),
        pytest.param("DELETED", "DRAFT", id="deleted-is-final"),
    ],
)
def test_refused_status_changes(env: Env, start: str, target: str) -> None:
    order = order_in(env, start)
    errors = messages(env.update(order, Status=target))
    # One lifecycle, one message for every document kind (Xero's wording for invoices).
    assert errors == ["Purchase order not of valid status for modification"]
    assert env.stored(order)["Status"] == start


# --------------------------------------------------------------------------- edits


@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED", "AUTHORISED"])
def test_orders_can_be_edited_until_billed(env: Env, status: str) -> None:
    order = order_in(env, status)
    lines = [{"Description": "Toner", "Quantity": 2, "UnitAmount": 60, "AccountCode": "429"}]
    outcome = env.update(order, LineItems=lines, AttentionTo="Reception")
    assert outcome.status == 200, outcome.body
    edited = outcome.body["PurchaseOrders"][0]
    assert edited["Total"] == 138.0 and edited["AttentionTo"] == "Reception"
    assert edited["DeliveryDateString"] == "2026-03-16T00:00:00"  # omitted fields are kept


def test_a_billed_order_refuses_edits_but_takes_sent_to_contact(env: Env) -> None:
    order = order_in(env, "BILLED")
    errors = messages(env.update(order, Reference="changed"))
    assert errors == ["A purchase order with the status BILLED cannot be edited (Reference)."]
    assert env.update(order, SentToContact=True).status == 200
    assert env.stored(order)["SentToContact"] is True


def test_sent_to_contact_refused_until_approved(env: Env) -> None:
    order = order_in(env, "SUBMITTED")
    assert "SentToContact can only be set" in messages(env.update(order, SentToContact=True))[0]
    assert env.update(order, Status="AUTHORISED", SentToContact=True).status == 200


# --------------------------------------------------------------------------- lists


def test_where_is_refused(env: Env) -> None:
    with pytest.raises(ApiException, match="where"):
        service.list_records(env.org, env.rules, service.ListQuery(where='Status=="DRAFT"'))


def test_status_and_date_filters(env: Env) -> None:
    env.create(Date="2026-03-01")
    env.create(Date="2026-03-05", Status="AUTHORISED")
    by_status, _ = service.list_records(
        env.org, env.rules, service.ListQuery(filters={"Status": ["AUTHORISED"]})
    )
    assert [o["PurchaseOrderNumber"] for o in by_status] == ["PO-0002"]
    records = list(env.org.table("PurchaseOrders").values())
    late = env.rules.filter_list(records, {"DateFrom": "2026-03-02"})
    early = env.rules.filter_list(records, {"DateTo": "2026-03-01"})
    assert [o["Date"] for o in late] == [date(2026, 3, 5)]
    assert [o["Date"] for o in early] == [date(2026, 3, 1)]


def test_page_size_applies_to_purchase_orders(env: Env) -> None:
    for _ in range(3):
        env.create()
    page, extra = service.list_records(env.org, env.rules, service.ListQuery(page=2, page_size=2))
    assert len(page) == 1 and extra["pagination"]["pageSize"] == 2


def test_rendered_orders_match_the_spec(env: Env) -> None:
    order_in(env, "BILLED")
    env.create(LineItems=[{"ItemCode": "WIDGET", "Quantity": 3, "DiscountRate": 5}])
    records, extra = service.list_records(env.org, env.rules, service.ListQuery(page=1))
    body = service.envelope("PurchaseOrders", records, "Test App", env.ctx().now, **extra)
    XeroSpec.load().validate(
        "GET",
        "http://sandbox/api.xro/2.0/PurchaseOrders",
        200,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
    )
    widget = records[-1]["LineItems"][0]
    assert widget["UnitAmount"] == 12.5  # the item's purchase price, not its sale price
    assert records[-1]["IsDiscounted"] is True


# --------------------------------------------------------------------------- over HTTP


def test_http_create_then_get_by_number(xero_client: httpx.Client) -> None:
    contacts = xero_client.get("/Contacts").json()["Contacts"]
    supplier = next(c["ContactID"] for c in contacts if c["Name"] == "PowerDirect")
    created = xero_client.put(
        "/PurchaseOrders",
        json={
            "PurchaseOrders": [
                {
                    "Contact": {"ContactID": supplier},
                    "PurchaseOrderNumber": "PO-HTTP-1",
                    "LineItems": [{"Description": "Meters", "Quantity": 1, "UnitAmount": 10}],
                }
            ]
        },
    )
    assert created.status_code == 200, created.text
    by_number = xero_client.get("/PurchaseOrders/PO-HTTP-1").json()["PurchaseOrders"]
    assert [o["PurchaseOrderID"] for o in by_number] == [
        created.json()["PurchaseOrders"][0]["PurchaseOrderID"]
    ]
    billed = xero_client.get("/PurchaseOrders", params={"Status": "BILLED"}).json()
    assert {o["Status"] for o in billed["PurchaseOrders"]} == {"BILLED"}
