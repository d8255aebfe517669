"""The soak's stream of changes: what a busy bookkeeper does in Xero, through the API.

Each round, in one organisation: a supplier with an AUTHORISED bill (partly paid) and a
supplier credit note that can settle it, a SUBMITTED bill (awaiting approval), a customer
with an email address and an AUTHORISED sales invoice (partly paid), and a bank
transaction. Amounts come from a seeded generator, so a soak is repeatable. Every record
is logged (``stream.jsonl``) with the time Xero stamped it: the list of changes the
automations must deliver.

The writer is a careful client: every write carries an ``Idempotency-Key`` (Xero keeps
them for a few minutes: ../shared/xero/API_NOTES.md and the sandbox's ``idempotency.py``)
and is repeated with the same key after a 5xx, a 429 (after its ``Retry-After``) or a
dropped connection, so an injected fault never loses or doubles a change.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from xero_sandbox.testing import SandboxServer


@dataclass(frozen=True)
class Change:
    """One record the stream wrote: its feed, organisation, ID and Xero's change time."""

    feed: str  # contacts, bills, sales_invoices, credit_notes, payments, bank_transactions
    tenant_id: str
    record_id: str
    changed_ms: int
    round: int


class CarefulWriter:
    """Writes to the sandbox as a connected app, retrying faults with the same key."""

    def __init__(self, sandbox: SandboxServer, tenant_ids: list[str], key_prefix: str) -> None:
        # another app than Airflow's (the demo's PKCE app): Xero counts its limits per app
        # and organisation (API_NOTES.md "Rate limits"), so a person's edits in their own
        # tools never take from the budget of the Airflow app
        self.client_id = sandbox.demo.pkce_client_id
        self.sandbox = sandbox
        self.tenant_ids = tenant_ids
        self.key_prefix = key_prefix
        self.client = httpx.Client(base_url=f"{sandbox.url}/api.xro/2.0", timeout=30)
        self.token = ""
        self.writes = 0
        self.retries = 0

    def _authorise(self) -> None:
        # an access token lives 30 minutes (API_NOTES.md "Tokens"): a soak takes new ones
        self.token = self.sandbox.tokens(self.client_id, self.tenant_ids)["access_token"]

    def write(
        self, tenant: str, resource: str, records: list[dict[str, Any]], method: str = "PUT"
    ) -> list[dict[str, Any]]:
        """Create (``PUT``) or update (``POST``) ``records``; returns what Xero stored."""
        self.writes += 1
        key = f"{self.key_prefix}-{self.writes}"
        body = {resource: records}
        for attempt in range(30):
            if not self.token:
                self._authorise()
            headers = {
                "Authorization": f"Bearer {self.token}",
                "xero-tenant-id": tenant,
                "Idempotency-Key": key,
                "Accept": "application/json",
            }
            try:
                answer = self.client.request(method, resource, json=body, headers=headers)
            except httpx.TransportError:  # e.g. dropped after Xero committed the write
                self.retries += 1
                time.sleep(0.5)
                continue
            if answer.status_code == 401:
                self.token = ""
                continue
            if answer.status_code == 429 or answer.status_code >= 500:
                self.retries += 1
                time.sleep(float(answer.headers.get("Retry-After", "0.5")) + 0.1 * attempt)
                continue
            if answer.status_code >= 400:
                raise RuntimeError(f"Xero refused the soak's {resource}: {answer.text[:500]}")
            return answer.json()[resource]
        raise RuntimeError(f"the soak's {resource} write failed 30 times (key {key})")

    def close(self) -> None:
        self.client.close()


def _ms(record: dict[str, Any]) -> int:
    from xero_provider.state.feed import parse_ms

    return parse_ms(record["UpdatedDateUTC"])


class Stream:
    """Rounds of changes, alternating organisations; each change logged as it is made."""

    def __init__(
        self, writer: CarefulWriter, tenant_ids: list[str], seed: int, log_path: Path
    ) -> None:
        self.writer = writer
        self.tenant_ids = tenant_ids
        self.random = random.Random(seed)
        self.log_path = log_path
        self.changes: list[Change] = []
        self.rounds = 0

    def _log(self, change: Change) -> None:
        self.changes.append(change)
        with self.log_path.open("a") as log:
            log.write(json.dumps(asdict(change)) + "\n")

    def _money(self, low: int, high: int) -> str:
        return f"{self.random.randint(low * 100, high * 100) / 100:.2f}"

    def round(self) -> list[Change]:
        """One round of changes in the next organisation; returns them (also logged)."""
        number = self.rounds
        self.rounds += 1
        tenant = self.tenant_ids[number % len(self.tenant_ids)]
        tag = f"s{number}"
        w = self.writer
        today = date.today()
        dates = {"Date": today.isoformat(), "DueDate": (today + timedelta(days=30)).isoformat()}

        def line(amount: str, account: str) -> list[dict[str, Any]]:
            item = {"Description": f"Soak {tag}", "Quantity": "1", "UnitAmount": amount}
            return [{**item, "AccountCode": account}]

        made: list[Change] = []

        def logged(feed: str, record: dict[str, Any], id_field: str) -> dict[str, Any]:
            change = Change(feed, tenant, record[id_field], _ms(record), number)
            self._log(change)
            made.append(change)
            return record

        supplier, customer = w.write(
            tenant,
            "Contacts",
            [
                {"Name": f"Soak Supplier {tag}"},
                {"Name": f"Soak Customer {tag}", "EmailAddress": f"ar+{tag}@example.com"},
            ],
        )
        logged("contacts", supplier, "ContactID")
        logged("contacts", customer, "ContactID")
        open_bill, submitted, sale = w.write(
            tenant,
            "Invoices",
            [
                {
                    "Type": "ACCPAY",
                    "Status": "AUTHORISED",
                    "Contact": {"ContactID": supplier["ContactID"]},
                    "LineItems": line(self._money(200, 400), "429"),
                    **dates,
                },
                {
                    "Type": "ACCPAY",
                    "Status": "SUBMITTED",
                    "Contact": {"ContactID": supplier["ContactID"]},
                    "LineItems": line(self._money(50, 150), "429"),
                    **dates,
                },
                {
                    "Type": "ACCREC",
                    "Status": "AUTHORISED",
                    "Contact": {"ContactID": customer["ContactID"]},
                    "LineItems": line(self._money(100, 300), "200"),
                    **dates,
                },
            ],
        )
        logged("bills", submitted, "InvoiceID")
        logged("sales_invoices", sale, "InvoiceID")
        bank = {"Code": "090"}  # the demo organisations' Business Bank Account (seed.py)
        payments = w.write(
            tenant,
            "Payments",
            [
                {
                    "Invoice": {"InvoiceID": sale["InvoiceID"]},
                    "Account": bank,
                    "Date": today.isoformat(),
                    "Amount": self._money(10, 50),
                },
                {  # leaves more due on the bill than any credit note below
                    "Invoice": {"InvoiceID": open_bill["InvoiceID"]},
                    "Account": bank,
                    "Date": today.isoformat(),
                    "Amount": self._money(10, 50),
                },
            ],
        )
        for payment in payments:
            logged("payments", payment, "PaymentID")
        (credit,) = w.write(
            tenant,
            "CreditNotes",
            [
                {
                    "Type": "ACCPAYCREDIT",
                    "Status": "AUTHORISED",
                    "Contact": {"ContactID": supplier["ContactID"]},
                    "Date": today.isoformat(),
                    "LineItems": line(self._money(20, 140), "429"),
                }
            ],
        )
        logged("credit_notes", credit, "CreditNoteID")
        kind = self.random.choice(["SPEND", "RECEIVE"])
        (transaction,) = w.write(
            tenant,
            "BankTransactions",
            [
                {
                    "Type": kind,
                    "Contact": {
                        "ContactID": (supplier if kind == "SPEND" else customer)["ContactID"]
                    },
                    "BankAccount": bank,
                    "Date": today.isoformat(),
                    "LineItems": line(self._money(5, 80), "429" if kind == "SPEND" else "200"),
                }
            ],
        )
        logged("bank_transactions", transaction, "BankTransactionID")
        return made


def read_log(path: Path) -> list[Change]:
    """The changes a stream logged (``stream.jsonl``)."""
    if not path.exists():
        return []
    return [Change(**json.loads(line)) for line in path.read_text().splitlines() if line]
