"""What Xero's spec and limits make knowable is refused before sending: text lengths, and
a body over Xero's 3.5 MB request size."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.provider.connections import xero_connection
from xero_provider.exceptions import XeroInputError
from xero_provider.hooks import XeroHook
from xero_provider.hooks.planning import plan_writes
from xero_provider.hooks.text_limits import MAX_REQUEST_BYTES, TEXT_LIMITS
from xero_provider.operators import XeroCreateContactOperator, XeroCreateQuoteOperator
from xero_provider.resources import get_resource

SPEC = Path(__file__).parents[2] / "include" / "xero_sandbox" / "spec" / "xero_accounting.yaml"


def test_the_table_is_the_specs_max_lengths() -> None:
    schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    for schema, fields in TEXT_LIMITS.items():
        properties = schemas[schema]["properties"]
        assert fields == {
            name: spec["maxLength"]
            for name, spec in properties.items()
            if isinstance(spec, dict) and "maxLength" in spec
        }, schema


@pytest.fixture
def hook(sandbox, monkeypatch, tmp_path) -> XeroHook:
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db"))
    yield hook
    hook.close()


def _writes(sandbox) -> int:
    return sum(c["method"] in ("PUT", "POST") for c in sandbox.requests())


def test_a_long_name_and_a_huge_field_are_refused_before_any_request(sandbox, hook) -> None:
    before = _writes(sandbox)
    with pytest.raises(XeroInputError, match=r"records\[1\]\.Name: is 256 characters.*255"):
        hook.create("Contacts", [{"Name": "Fine"}, {"Name": "x" * 256}])
    with pytest.raises(XeroInputError, match=r"records\[0\]\.Addresses\[0\]\.City"):
        hook.create("Contacts", {"Name": "A", "Addresses": [{"City": "c" * 300}]})
    with pytest.raises(XeroInputError, match=r"records\[0\]\.Notes: the record is \d+ bytes"):
        hook.create("Invoices", {"Type": "ACCREC", "Notes": "n" * (10 * 1024 * 1024)})
    assert _writes(sandbox) == before


def test_chunks_stay_under_the_request_size() -> None:
    spec = get_resource("Contacts")
    rows = [{"Name": f"C{i}", "Notes": "n" * (200 * 1024)} for i in range(50)]  # ~10 MB
    chunks = plan_writes(spec, rows, method="PUT", tenant_id="t", idempotency_key="k")
    assert sum(len(c.records) for c in chunks) == 50 and len(chunks) > 1
    import json

    assert all(
        len(json.dumps({"Contacts": c.records}).encode()) <= MAX_REQUEST_BYTES for c in chunks
    )


def test_operators_name_each_record_over_a_limit() -> None:
    contacts = XeroCreateContactOperator(task_id="c", records=[])
    problems = contacts.validate_rows(
        [{"Name": "ok"}, {"Name": "ok2", "Phones": [{"PhoneNumber": "1" * 51}]}]
    )
    assert [(p.index, p.field) for p in problems] == [(1, "Phones[0].PhoneNumber")]
    quotes = XeroCreateQuoteOperator(task_id="q", records=[])
    row = {"Contact": {"Name": "A"}, "Date": "2026-11-01", "Terms": "t" * 4001,
           "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1}]}  # fmt: skip
    assert [(p.index, p.field) for p in quotes.validate_rows([row])] == [(0, "Terms")]
