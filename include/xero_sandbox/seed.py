"""Seed data: the fixed demo (two organisations, two apps), JSON seeds, bulk generation.

Records in a seed go through the same rules as API writes, so seeded data is data Xero
could hold. The demo's credentials are fixed and documented in the README.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from xero_sandbox.accounting.reference import seed_reference
from xero_sandbox.accounting.registry import rules_for
from xero_sandbox.dates import whole_ms
from xero_sandbox.demo_data import demo_records
from xero_sandbox.identity import App
from xero_sandbox.organisation import Organisation, new_id
from xero_sandbox.seed_writes import SeedError, context, write
from xero_sandbox.state import SandboxState

__all__ = ["DEMO", "DemoCredentials", "SeedError", "context", "load", "seed_demo", "write"]


@dataclass(frozen=True)
class DemoCredentials:
    """The fixed identities ``--seed-demo`` creates (also listed by ``GET /__sandbox/apps``)."""

    tenant_id: str = "6a1f3e52-8c0d-4b7e-9f21-3d5c7a9b1e01"
    tenant_name: str = "Demo Company (NZ)"
    second_tenant_id: str = "b7e2d4c6-1a3f-4e5d-8b9c-0f1e2d3c4b02"
    second_tenant_name: str = "Sandbox Starter Ltd"
    web_client_id: str = "6B1D2E3F40718293A4B5C6D7E8F90A1B"
    web_client_secret: str = "sandbox-web-secret-5f8c2a9d7e1b4c6a"
    pkce_client_id: str = "7C2E3F40718293A4B5C6D7E8F90A1B2C"
    custom_client_id: str = "8D3F40718293A4B5C6D7E8F90A1B2C3D"
    custom_client_secret: str = "sandbox-custom-secret-3b7d9f1a2c4e"
    redirect_uri: str = "http://localhost:8080/xero/callback"


DEMO = DemoCredentials()
DEMO_REDIRECT_URIS = [
    DEMO.redirect_uri,
    "http://127.0.0.1:8080/xero/callback",
    "http://localhost:8080/connect/xero/callback",
    "http://127.0.0.1:8080/connect/xero/callback",
    "http://localhost/callback",
]

ACCOUNTS = [
    # Code, Name, Type, TaxType, BankAccountNumber
    ("090", "Business Bank Account", "BANK", "NONE", "0201234567890001"),
    ("091", "Business Savings Account", "BANK", "NONE", "0201234567890002"),
    ("200", "Sales", "REVENUE", "OUTPUT2", None),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2", None),
    ("300", "Purchases", "DIRECTCOSTS", "INPUT2", None),
    ("400", "Advertising", "EXPENSE", "INPUT2", None),
    ("429", "General Expenses", "EXPENSE", "INPUT2", None),
    ("445", "Light, Power, Heating", "EXPENSE", "INPUT2", None),
    ("610", "Accounts Receivable", "CURRENT", "NONE", None),
    ("800", "Accounts Payable", "CURRLIAB", "NONE", None),
    ("820", "GST", "CURRLIAB", "NONE", None),
    ("960", "Retained Earnings", "EQUITY", "NONE", None),
]
# Xero marks its control accounts (spec: Account.SystemAccount; the spec's own example
# lists 610 Accounts Receivable as DEBTORS and 800 Accounts Payable as CREDITORS).
SYSTEM_ACCOUNTS = {"610": "DEBTORS", "800": "CREDITORS", "820": "GST"}
TAX_RATES = [
    # TaxType, Name, rate, on revenue, on expenses
    ("OUTPUT2", "15% GST on Income", "15", True, False),
    ("INPUT2", "15% GST on Expenses", "15", False, True),
    ("NONE", "No GST", "0", True, True),
    ("ZERORATED", "Zero Rated", "0", True, True),
    ("EXEMPTOUTPUT", "Zero Rated - Exempt Output", "0", True, False),
]
ITEMS = [
    # Code, Name, sale price, purchase price
    ("WIDGET", "Blue widget", "25.00", "12.50"),
    ("CONSULT", "Consulting hour", "180.00", None),
    ("SUPPORT", "Support plan (monthly)", "99.00", None),
]


def reference_data(org: Organisation, now: Any) -> None:
    """Accounts, tax rates and items every organisation starts with."""
    for code, name, type_, tax, bank_number in ACCOUNTS:
        account_id = new_id()
        record: dict[str, Any] = {
            "AccountID": account_id,
            "Code": code,
            "Name": name,
            "Type": type_,
            "TaxType": tax,
            "Status": "ACTIVE",
            "Class": _ACCOUNT_CLASS[type_],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": type_ == "EXPENSE",
            "ReportingCode": _ACCOUNT_CLASS[type_][:3],
            "HasAttachments": False,
            "UpdatedDateUTC": now,
        }
        if code in SYSTEM_ACCOUNTS:
            record["SystemAccount"] = SYSTEM_ACCOUNTS[code]
        if bank_number:
            record.update(
                BankAccountNumber=bank_number,
                BankAccountType="BANK",
                CurrencyCode=org.base_currency,
            )
        org.put("Accounts", account_id, record)
    for tax_type, name, rate, revenue, expenses in TAX_RATES:
        org.put(
            "TaxRates",
            tax_type,
            {
                "Name": name,
                "TaxType": tax_type,
                "Status": "ACTIVE",
                "ReportTaxType": "OUTPUT" if revenue and not expenses else "INPUT",
                "CanApplyToAssets": True,
                "CanApplyToEquity": True,
                "CanApplyToExpenses": expenses,
                "CanApplyToLiabilities": True,
                "CanApplyToRevenue": revenue,
                "DisplayTaxRate": float(rate),
                "EffectiveRate": float(rate),
                "TaxComponents": [
                    {
                        "Name": "GST",
                        "Rate": float(rate),
                        "IsCompound": False,
                        "IsNonRecoverable": False,
                    }
                ],
            },
        )
    for code, name, sale, purchase in ITEMS:
        item_id = new_id()
        item: dict[str, Any] = {
            "ItemID": item_id,
            "Code": code,
            "Name": name,
            "Description": name,
            "IsSold": True,
            "IsPurchased": purchase is not None,
            "IsTrackedAsInventory": False,
            "SalesDetails": {"UnitPrice": float(sale), "AccountCode": "200", "TaxType": "OUTPUT2"},
            "UpdatedDateUTC": now,
        }
        if purchase is not None:
            item["PurchaseDescription"] = name
            item["PurchaseDetails"] = {
                "UnitPrice": float(purchase),
                "AccountCode": "300",
                "TaxType": "INPUT2",
            }
        org.put("Items", item_id, item)
    seed_reference(org, now)


_ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "REVENUE": "REVENUE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "CURRLIAB": "LIABILITY",
    "EQUITY": "EQUITY",
}


def add_organisation(state: SandboxState, spec: dict[str, Any]) -> Organisation:
    tenant_id = str(spec.get("tenant_id") or new_id())
    org = Organisation(
        tenant_id=tenant_id,
        name=str(spec.get("name") or "Sandbox Organisation"),
        short_code=str(spec.get("short_code") or "!" + tenant_id[:5]),
        country_code=str(spec.get("country_code") or "NZ"),
        base_currency=str(spec.get("base_currency") or "NZD"),
        tier=str(spec.get("tier") or "STANDARD").upper(),
        high_volume=spec.get("high_volume") is True,
    )
    state.add_org(org)
    if spec.get("reference_data", True):
        reference_data(org, state.clock.now())
    return org


def seed_demo(state: SandboxState) -> DemoCredentials:
    """Two organisations with reference data and documents, and the three demo apps."""
    first = add_organisation(state, {"tenant_id": DEMO.tenant_id, "name": DEMO.tenant_name})
    second = add_organisation(
        state,
        {"tenant_id": DEMO.second_tenant_id, "name": DEMO.second_tenant_name, "tier": "STARTER"},
    )
    state.identity.register_app(
        App(
            client_id=DEMO.web_client_id,
            client_secret=DEMO.web_client_secret,
            name="Airflow Xero Provider (sandbox)",
            kind="web",
            redirect_uris=list(DEMO_REDIRECT_URIS),
        )
    )
    state.identity.register_app(
        App(
            client_id=DEMO.pkce_client_id,
            client_secret=None,
            name="Airflow Xero Provider PKCE (sandbox)",
            kind="pkce",
            redirect_uris=list(DEMO_REDIRECT_URIS),
        )
    )
    state.identity.register_app(
        App(
            client_id=DEMO.custom_client_id,
            client_secret=DEMO.custom_client_secret,
            name="Airflow Xero Custom Connection (sandbox)",
            kind="custom",
            custom_tenant_id=DEMO.tenant_id,
        )
    )
    for org in (first, second):
        demo_records(state, org)
    return DEMO


def load(state: SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    """Apply a JSON seed: ``organisations``, ``apps`` and ``records`` by tenant and resource."""
    _check_shape(payload)
    created: dict[str, int] = {}
    for spec in payload.get("organisations", []):
        add_organisation(state, spec)
    for spec in payload.get("apps", []):
        try:
            state.identity.register_app(App(**spec))
        except (TypeError, ValueError) as exc:
            raise SeedError(f"invalid app: {exc}") from None
    for tenant_id, resources in payload.get("records", {}).items():
        org = state.org(tenant_id)
        if org is None:
            raise SeedError(f"unknown organisation '{tenant_id}'")
        for resource, records in resources.items():
            created[resource] = created.get(resource, 0) + len(write(state, org, resource, records))
    return {"organisations": len(state.orgs), "created": created}


def _check_shape(payload: Any) -> None:
    """Refuse a seed of the wrong shape before anything is applied (a SeedError, not a crash)."""
    if not isinstance(payload, dict):
        raise SeedError("a seed is a JSON object")
    for key in ("organisations", "apps"):
        items = payload.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SeedError(f"'{key}' must be a list of objects")
    for i, spec in enumerate(payload.get("organisations", [])):
        for name, value in spec.items():
            if not isinstance(value, str | bool):
                raise SeedError(f"organisations[{i}].{name} must be a string")
    records = payload.get("records", {})
    if not isinstance(records, dict):
        raise SeedError("'records' must be an object of tenant id -> resource -> list")
    for tenant_id, resources in records.items():
        if not isinstance(resources, dict):
            raise SeedError(f"records['{tenant_id}'] must be an object of resource -> list")
        for resource, rows in resources.items():
            if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
                raise SeedError(f"records['{tenant_id}']['{resource}'] must be a list of objects")


def load_file(state: SandboxState, path: str | Path) -> dict[str, Any]:
    return load(state, json.loads(Path(path).read_text()))


def generate(
    state: SandboxState, tenant_id: str, resource: str, count: int, spread_seconds: float = 0.0
) -> list[str]:
    """Create many records fast (benchmarks): valid shapes, bypassing per-call validation.

    UpdatedDateUTC is spread evenly over the last ``spread_seconds`` of sandbox time.
    """
    org = state.org(tenant_id)
    if org is None:
        raise SeedError(f"unknown organisation '{tenant_id}'")
    rules = rules_for(resource)
    if rules is None:
        raise SeedError(f"cannot generate '{resource}'")
    factory = rules.generate
    now = state.clock.now()
    ctx = context(state, org)
    ids = []
    with org.lock:
        start = org.counters.get(f"generated:{rules.name}", 0)
        for i in range(count):
            when = whole_ms(
                now - timedelta(seconds=spread_seconds * (count - 1 - i) / max(count, 1))
            )
            try:
                record = factory(ctx, start + i + 1)
            except NotImplementedError:
                raise SeedError(f"cannot generate '{resource}'") from None
            if rules.updated_field:
                record[rules.updated_field] = when
            org.put(rules.name, record[rules.id_field], record)
            ids.append(record[rules.id_field])
        org.counters[f"generated:{rules.name}"] = start + count
    return ids
