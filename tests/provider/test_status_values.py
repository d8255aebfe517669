"""The resource table's status values are exactly the enums in Xero's spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xero_provider.resources import _ROWS, STATUS_VALUES

SPEC = Path(__file__).resolve().parents[2] / "include/xero_sandbox/spec/xero_accounting.yaml"
# resource table name -> the schema of one record in xero_accounting.yaml
SCHEMAS = {
    "Invoices": "Invoice",
    "Bills": "Invoice",
    "SalesInvoices": "Invoice",
    "TrackingCategories": "TrackingCategory",
}


@pytest.fixture(scope="module")
def schemas() -> dict:
    return yaml.safe_load(SPEC.read_text())["components"]["schemas"]


def _spec_enum(schemas: dict, row) -> tuple[str, ...] | None:
    name = SCHEMAS.get(row.name, row.name.removesuffix("s"))
    prop = schemas[name]["properties"].get(row.status_field)
    if prop is None:
        return None
    if "$ref" in prop:
        prop = schemas[prop["$ref"].rsplit("/", 1)[-1]]
    return tuple(prop["enum"]) if "enum" in prop else None


@pytest.mark.parametrize("row", [r for r in _ROWS if r.status_field], ids=lambda r: r.name)
def test_status_values_match_the_spec(schemas, row) -> None:
    assert row.status_values == _spec_enum(schemas, row)


def test_no_status_values_without_a_status_field() -> None:
    rows = {r.name: r for r in _ROWS}
    assert set(STATUS_VALUES) <= set(rows)
    assert all(rows[name].status_field for name in STATUS_VALUES)
