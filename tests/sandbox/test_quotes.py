"""Quotes: required fields, numbering, the DRAFT-only edits, the status flow, the texts Xero
clears, list filters, no ``where`` and page-only paging."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.sandbox.in_process import InProcessOrg, messages
from xero_sandbox.accounting import registry, service
from xero_sandbox.accounting.quotes import RESOURCE_RULES, QuoteRules
from xero_sandbox.conformance import XeroSpec
from xero_sandbox.errors import ApiException, NotFound
from xero_sandbox.responses import Outcome

TODAY = date(2026, 3, 2)


class Env(InProcessOrg):
    """One organisation with two contacts, and the quote rules registered in-process."""

    def __init__(self) -> None:
        super().__init__(
            {"name": "Quotes Ltd"}, [{"Name": "Ridgeway University"}, {"Name": "Bayside Club"}]
        )
        self.rules = QuoteRules()

    def write(self, elements: list[dict], mode: str = "put", target: dict | None = None):
        return self.write_with(self.rules, elements, mode, target)

    def create(self, **fields: Any) -> dict[str, Any]:
        outcome = self.write([quote_body(self, **fields)])
        assert outcome.status == 200, outcome.body
        return outcome.body["Quotes"][0]

    def update(self, quote: dict[str, Any], **fields: Any) -> Outcome:
        body = {
            "Contact": {"ContactID": quote["Contact"]["ContactID"]},
            "Date": quote["DateString"][:10],
            **{k: quote[k] for k in ("Title", "Summary", "Terms", "Reference") if k in quote},
            **fields,
        }
        stored = self.org.get("Quotes", quote["QuoteID"])
        return self.write([body], mode="post", target=stored)

    def stored(self, quote: dict[str, Any]) -> dict[str, Any]:
        return self.rules.render(self.org, self.org.get("Quotes", quote["QuoteID"]))

    def listed(self, **query: Any) -> tuple[list, dict]:
        return service.list_records(self.org, self.rules, service.ListQuery(**query))


def quote_body(env: Env, **fields: Any) -> dict[str, Any]:
    body = {
        "Contact": {"ContactID": env.contacts["Ridgeway University"]},
        "Date": TODAY.isoformat(),
        "Title": "Campus consulting",
        "LineItems": [
            {"Description": "Consulting", "Quantity": 2, "UnitAmount": 100, "AccountCode": "200"}
        ],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    for cls in RESOURCE_RULES:
        monkeypatch.setitem(registry.RULES, cls.name.lower(), cls())
    return Env()


# --------------------------------------------------------------------------- create


def test_create_numbers_quotes_and_renders_xero_shape(env: Env) -> None:
    first = env.create()
    second = env.create(Status="SENT")
    assert (first["QuoteNumber"], second["QuoteNumber"]) == ("QU-0001", "QU-0002")
    assert first["Status"] == "DRAFT" and second["Status"] == "SENT"
    assert first["LineAmountTypes"] == "EXCLUSIVE"  # the Quote enum is upper case
    assert first["DateString"] == "2026-03-02T00:00:00"
    assert first["Contact"]["Name"] == "Ridgeway University"
    assert (first["SubTotal"], first["TotalTax"], first["Total"]) == (200.0, 30.0, 230.0)


def test_a_typed_number_is_kept_and_must_be_unique(env: Env) -> None:
    env.create(QuoteNumber="Q-77")
    assert "already used" in messages(env.write([quote_body(env, QuoteNumber="q-77")]))[0]
    assert env.create()["QuoteNumber"] == "QU-0001"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"Contact": None}, "ContactID must be specified", id="no-contact"),
        pytest.param({"Contact": {"Name": "Bayside Club"}}, "ContactID", id="name-not-id"),
        pytest.param(
            {"Contact": {"ContactID": "00000000-0000-0000-0000-000000000001"}},
            "could not be found",
            id="unknown-contact",
        ),
        pytest.param({"Date": None}, "Date must be specified", id="no-date"),
        pytest.param({"Date": "31/02/2026"}, "not a valid date", id="bad-date"),
        pytest.param({"LineItems": None}, "LineItems must be specified", id="no-lines"),
        pytest.param({"LineItems": []}, "LineItems must be specified", id="empty-lines"),
        pytest.param({"Title": "T" * 101}, "Title must be 100", id="title-too-long"),
        pytest.param({"Summary": "S" * 3001}, "Summary must be 3000", id="summary-too-long"),
        pytest.param(
            {"Status": "ACCEPTED"},
            "Status ACCEPTED is not valid for a new quote",
            id="created-accepted",
        ),
        pytest.param({"Status": "WON"}, "Status 'WON' is not valid", id="unknown-status"),
        pytest.param({"CurrencyCode": "USD"}, "not enabled", id="currency-not-enabled"),
    ],
)
def test_create_refuses_invalid_quotes(env: Env, change: dict, fragment: str) -> None:
    errors = messages(env.write([quote_body(env, **change)]))
    assert any(fragment in m for m in errors), errors
    assert env.org.table("Quotes") == {}


def test_longest_title_and_summary_are_accepted(env: Env) -> None:
    quote = env.create(Title="T" * 100, Summary="S" * 3000)
    assert len(quote["Title"]) == 100 and len(quote["Summary"]) == 3000


def test_a_quote_never_creates_a_contact(env: Env) -> None:
    before = len(env.org.table("Contacts"))
    env.write([quote_body(env, Contact={"Name": "Brand New Customer"})])
    assert len(env.org.table("Contacts")) == before


# --------------------------------------------------------------------------- status flow


def quote_in(env: Env, status: str) -> dict[str, Any]:
    """A quote brought to ``status`` along transitions Xero accepts."""
    path = {
        "DRAFT": [],
        "SENT": ["SENT"],
        "ACCEPTED": ["SENT", "ACCEPTED"],
        "DECLINED": ["SENT", "DECLINED"],
        "INVOICED": ["SENT", "ACCEPTED", "INVOICED"],
        "DELETED": ["DELETED"],
    }[status]
    quote = env.create()
    for step in path:
        outcome = env.update(quote, Status=step)
        assert outcome.status == 200, outcome.body
        quote = outcome.body["Quotes"][0]
    return quote


@pytest.mark.parametrize(
    ("start", "target"),
    [
        pytest.param("DRAFT", "SENT", id="draft-sent"),
        pytest.param("DRAFT", "DELETED", id="draft-deleted"),
        pytest.param("SENT", "ACCEPTED", id="sent-accepted"),
        pytest.param("SENT", "DECLINED", id="sent-declined"),
        pytest.param("SENT", "DRAFT", id="sent-draft"),
        pytest.param("SENT", "DELETED", id="sent-deleted"),
        pytest.param("ACCEPTED", "SENT", id="accepted-sent"),
        pytest.param("ACCEPTED", "INVOICED", id="accepted-invoiced"),
    ],
)
def test_allowed_status_changes(env: Env, start: str, target: str) -> None:
    quote = quote_in(env, start)
    outcome = env.update(quote, Status=target)
    assert outcome.status == 200, outcome.body
    assert env.stored(quote)["Status"] == target


@pytest.mark.parametrize(
    ("start", "target"),
    [
        pytest.param("DRAFT", "DECLINED", id="draft-declined-xero-refuses"),
        pytest.param("ACCEPTED", "DECLINED", id="accepted-declined-xero-refuses"),
        pytest.param("DRAFT", "ACCEPTED", id="draft-accepted"),
        pytest.param("DRAFT", "INVOICED", id="draft-invoiced"),
        pytest.param("DECLINED", "SENT", id="declined-is-final"),
        pytest.param("INVOICED", "ACCEPTED", id="invoiced-is-final"),
        pytest.param("DELETED", "DRAFT", id="deleted-is-final"),
    ],
)
def test_refused_status_changes_leave_the_quote_alone(env: Env, start: str, target: str) -> None:
    quote = quote_in(env, start)
    errors = messages(env.update(quote, Status=target))
    # One lifecycle, one message for every document kind (Xero's wording for invoices).
    assert errors == ["Quote not of valid status for modification"], errors
    assert env.stored(quote)["Status"] == start


# --------------------------------------------------------------------------- edits


def test_draft_quotes_can_be_edited_and_totals_follow(env: Env) -> None:
    quote = env.create()
    lines = [{"Description": "Workshop", "Quantity": 3, "UnitAmount": 50, "AccountCode": "200"}]
    outcome = env.update(quote, LineItems=lines, Date="2026-03-05", LineAmountTypes="NoTax")
    assert outcome.status == 200, outcome.body
    edited = outcome.body["Quotes"][0]
    assert edited["LineItems"][0]["Description"] == "Workshop"
    assert (edited["SubTotal"], edited["TotalTax"], edited["Total"]) == (150.0, 0.0, 150.0)
    assert edited["LineAmountTypes"] == "NOTAX"
    assert edited["DateString"].startswith("2026-03-05")


@pytest.mark.parametrize(
    ("status", "change", "field"),
    [
        pytest.param(
            "SENT",
            {"LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1}]},
            "LineItems",
            id="sent-lines",
        ),
        pytest.param("SENT", {"Date": "2026-03-09"}, "Date", id="sent-date"),
        pytest.param("ACCEPTED", {"ExpiryDate": "2026-04-01"}, "ExpiryDate", id="accepted-expiry"),
        pytest.param("DECLINED", {"LineAmountTypes": "Inclusive"}, "LineAmountTypes", id="tax"),
        pytest.param("SENT", {"Contact": "other"}, "Contact", id="sent-contact"),
    ],
)
def test_only_draft_quotes_take_edits(env: Env, status: str, change: dict, field: str) -> None:
    quote = quote_in(env, status)
    if change.get("Contact") == "other":
        change = {"Contact": {"ContactID": env.contacts["Bayside Club"]}}
    before = env.stored(quote)
    errors = messages(env.update(quote, **change))
    assert errors == [
        f"Quote can only be updated when in DRAFT status: {field} cannot be changed on a "
        f"{status} quote."
    ]
    assert env.stored(quote) == before


def test_resending_unchanged_values_with_a_status_change_is_fine(env: Env) -> None:
    quote = quote_in(env, "SENT")
    outcome = env.update(quote, Status="ACCEPTED", CurrencyCode="NZD", LineAmountTypes="EXCLUSIVE")
    assert outcome.status == 200, outcome.body
    assert outcome.body["Quotes"][0]["Status"] == "ACCEPTED"


def test_update_needs_contact_and_date(env: Env) -> None:
    quote = env.create()
    stored = env.org.get("Quotes", quote["QuoteID"])
    errors = messages(env.write([{"Status": "SENT"}], mode="post", target=stored))
    assert any("Contact must be specified" in m for m in errors)
    assert any("Date must be specified" in m for m in errors)


def test_an_update_clears_omitted_texts_but_keeps_omitted_lines(env: Env) -> None:
    quote = env.create(Summary="Keep me?", Terms="30 days", Reference="REF-1")
    stored = env.org.get("Quotes", quote["QuoteID"])
    body = {
        "Contact": {"ContactID": quote["Contact"]["ContactID"]},
        "Date": quote["DateString"][:10],
        "Status": "SENT",
        "Title": "Campus consulting",
    }
    outcome = env.write([body], mode="post", target=stored)
    assert outcome.status == 200, outcome.body
    sent = outcome.body["Quotes"][0]
    assert sent["Title"] == "Campus consulting"
    assert "Summary" not in sent and "Terms" not in sent and "Reference" not in sent
    assert [line["Description"] for line in sent["LineItems"]] == ["Consulting"]
    assert sent["Total"] == 230.0


# --------------------------------------------------------------------------- lists


def test_where_is_refused_with_a_query_parse_exception(env: Env) -> None:
    env.create()
    with pytest.raises(ApiException) as caught:
        env.listed(where='Status=="DRAFT"')
    assert caught.value.body()["Type"] == "QueryParseException"


def test_page_size_is_ignored_quotes_page_by_100(env: Env) -> None:
    for n in range(120):
        record = QuoteRules.generate(env.ctx(), n)
        record["UpdatedDateUTC"] = env.ctx().now
        env.org.put("Quotes", record["QuoteID"], record)
    first, extra = env.listed(page=1, page_size=10)
    second, _ = env.listed(page=2, page_size=10)
    assert len(first) == 100 and len(second) == 20
    assert extra["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 2, "itemCount": 120}


def test_equality_filters_contact_status_and_number(env: Env) -> None:
    mine = env.create()
    env.create(Contact={"ContactID": env.contacts["Bayside Club"]}, Status="SENT")
    by_contact, _ = env.listed(filters={"ContactID": [env.contacts["Ridgeway University"].upper()]})
    by_status, _ = env.listed(filters={"Status": ["sent"]})
    by_number, _ = env.listed(filters={"QuoteNumber": ["QU-0001"]})
    assert [q["QuoteID"] for q in by_contact] == [mine["QuoteID"]]
    assert [q["Status"] for q in by_status] == ["SENT"]
    assert [q["QuoteID"] for q in by_number] == [mine["QuoteID"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"DateFrom": "2026-03-02"}, ["QU-0002", "QU-0003"], id="date-from-inclusive"),
        pytest.param({"DateTo": "2026-03-02"}, ["QU-0001", "QU-0002"], id="date-to-inclusive"),
        pytest.param({"datefrom": "2026-03-02", "DateTo": "2026-03-02"}, ["QU-0002"], id="day"),
        pytest.param({"ExpiryDateFrom": "2026-04-01"}, ["QU-0003"], id="expiry-from"),
        pytest.param({"ExpiryDateTo": "2026-03-31"}, ["QU-0001", "QU-0002"], id="expiry-to"),
    ],
)
def test_date_range_filters(env: Env, query: dict[str, str], expected: list[str]) -> None:
    for offset in (-1, 0, 5):
        day = TODAY + timedelta(days=offset)
        expiry = date(2026, 4, 10) if offset == 5 else date(2026, 3, 20)
        env.create(Date=day.isoformat(), ExpiryDate=expiry.isoformat())
    records = list(env.org.table("Quotes").values())
    kept = env.rules.filter_list(records, query)
    assert sorted(q["QuoteNumber"] for q in kept) == expected


def test_a_bad_date_filter_is_a_query_parse_exception(env: Env) -> None:
    with pytest.raises(ApiException, match="not a valid date"):
        env.rules.filter_list([], {"DateFrom": "soon"})


def test_quotes_are_not_readable_by_number(env: Env) -> None:
    quote = env.create()
    assert service.get_record(env.org, env.rules, quote["QuoteID"])["QuoteNumber"] == "QU-0001"
    with pytest.raises(NotFound):
        service.get_record(env.org, env.rules, "QU-0001")


def test_rendered_quotes_match_the_spec(env: Env) -> None:
    quote_in(env, "ACCEPTED")
    env.create(LineItems=[{"ItemCode": "WIDGET", "Quantity": 4, "DiscountRate": 10}])
    records, extra = env.listed(page=1)
    body = service.envelope("Quotes", records, "Test App", env.ctx().now, **extra)
    XeroSpec.load().validate(
        "GET",
        "http://sandbox/api.xro/2.0/Quotes",
        200,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
    )
    discounted = records[-1]
    assert discounted["TotalDiscount"] == 10.0 and discounted["SubTotal"] == 90.0


# --------------------------------------------------------------------------- over HTTP


def _customer_id(client: httpx.Client) -> str:
    contacts = client.get("/Contacts").json()["Contacts"]
    return next(c["ContactID"] for c in contacts if c["Name"] == "Ridgeway University")


def test_http_quote_life_cycle_and_where_refused(xero_client: httpx.Client) -> None:
    contact = {"ContactID": _customer_id(xero_client)}
    created = xero_client.put(
        "/Quotes",
        json={
            "Quotes": [
                {
                    "Contact": contact,
                    "Date": "2026-03-02",
                    "Title": "HTTP quote",
                    "LineItems": [{"Description": "Hours", "Quantity": 1, "UnitAmount": 80}],
                }
            ]
        },
    )
    assert created.status_code == 200, created.text
    quote = created.json()["Quotes"][0]
    refused = xero_client.post(
        f"/Quotes/{quote['QuoteID']}",
        json={"Quotes": [{"Contact": contact, "Date": "2026-03-02", "Status": "DECLINED"}]},
    )
    assert refused.status_code == 400
    assert refused.json()["Type"] == "ValidationException"
    where = xero_client.get("/Quotes", params={"where": 'Status=="DRAFT"'})
    assert where.status_code == 400 and where.json()["Type"] == "QueryParseException"


def test_http_demo_has_a_quote_in_every_status(xero_client: httpx.Client) -> None:
    statuses = {q["Status"] for q in xero_client.get("/Quotes").json()["Quotes"]}
    assert statuses >= {"DRAFT", "SENT", "ACCEPTED", "DECLINED", "INVOICED", "DELETED"}
