"""The reports a finance team pulls most, computed from the sandbox's own journals.

``GET /Reports/{Name}`` for ProfitAndLoss (``fromDate``/``toDate``, default this month),
BalanceSheet (``date``, default today), TrialBalance (``date``), AgedReceivablesByContact
and AgedPayablesByContact (``contactId`` required, ``date``). The shape is the spec's
ReportWithRows: a Header row, Sections with Rows of Cells (``Value`` strings, an
``account`` or ``invoiceID`` attribute), and SummaryRows with totals. Amounts come from
the journals (debits positive), so every report agrees with ``/Journals``.

Scopes: the broad ``accounting.reports.read`` or the report's granular scope
(``accounting.reports.profitandloss.read``, ``...balancesheet...``, ``...trialbalance...``,
``...aged...``), as in Xero's scope list. Row labels follow Xero's layouts; the exact
section names of Xero's standard layout are an approximation.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from xero_sandbox.accounting.base import ResourceRules, to_wire
from xero_sandbox.dates import DateParseError, parse_date
from xero_sandbox.errors import ApiException, NotFound
from xero_sandbox.organisation import Organisation

ZERO = Decimal("0")
REPORT_SCOPES = {
    "profitandloss": "accounting.reports.profitandloss",
    "balancesheet": "accounting.reports.balancesheet",
    "trialbalance": "accounting.reports.trialbalance",
    "agedreceivablesbycontact": "accounting.reports.aged",
    "agedpayablesbycontact": "accounting.reports.aged",
}
_CLASS_ORDER = ("REVENUE", "EXPENSE", "ASSET", "LIABILITY", "EQUITY")
_CLASS_TITLE = {
    "REVENUE": "Revenue",
    "EXPENSE": "Expenses",
    "ASSET": "Assets",
    "LIABILITY": "Liabilities",
    "EQUITY": "Equity",
}


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _cell(value: Any, **attributes: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"Value": str(value)}
    if attributes:
        cell["Attributes"] = [{"Id": k, "Value": v} for k, v in attributes.items()]
    return cell


def _row(kind: str, *cells: dict[str, Any]) -> dict[str, Any]:
    return {"RowType": kind, "Cells": list(cells)}


def _date_param(query: dict[str, str], name: str, default: date) -> date:
    value = next((v for k, v in query.items() if k.lower() == name.lower()), None)
    if value in (None, ""):
        return default
    try:
        return parse_date(value)
    except DateParseError:
        raise ApiException("QueryParseException", f"'{name}' is not a valid date.") from None


def _account_class(account: dict[str, Any]) -> str:
    return str(account.get("Class") or "ASSET")


def balances(org: Organisation, start: date | None, end: date) -> dict[str, Decimal]:
    """NetAmount per AccountID over journals dated in [start, end] (debits positive)."""
    totals: dict[str, Decimal] = {}
    for journal in org.table("Journals").values():
        when = journal["JournalDate"]
        if when > end or (start is not None and when < start):
            continue
        for line in journal["JournalLines"]:
            amount = Decimal(str(line["NetAmount"]))
            totals[line["AccountID"]] = totals.get(line["AccountID"], ZERO) + amount
    return totals


class ReportRules(ResourceRules):
    """``/Reports/{Name}``: read-only reports; the record key is the report name."""

    name = "Reports"
    id_field = "ReportID"
    scope = "reports"
    granular_scope = None
    paging = "none"
    supports_where = False
    supports_put = False
    supports_post = False
    supports_history = False
    updated_field = None

    def granular_for(self, segments: list[str]) -> str | None:
        return REPORT_SCOPES.get(segments[1].lower()) if len(segments) > 1 else None

    def stored(self, org: Organisation) -> list[dict[str, Any]]:
        raise NotFound()  # GET /Reports lists nothing: ask for one report by name

    def find(self, org: Organisation, key: str) -> dict[str, Any] | None:
        return None

    def get_one(
        self, org: Organisation, key: str, query: dict[str, str], now: datetime
    ) -> dict[str, Any] | None:
        today = now.date()
        builders = {
            "profitandloss": self._profit_and_loss,
            "balancesheet": self._balance_sheet,
            "trialbalance": self._trial_balance,
            "agedreceivablesbycontact": self._aged_receivables,
            "agedpayablesbycontact": self._aged_payables,
        }
        builder = builders.get(key.lower())
        if builder is None:
            return None
        report = builder(org, query, today)
        report["UpdatedDateUTC"] = to_wire(now)
        report["Fields"] = []
        return report

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        return record

    # --- reports -------------------------------------------------------------------------

    def _sections(
        self,
        org: Organisation,
        totals: dict[str, Decimal],
        classes: tuple[str, ...],
        sign: dict[str, int],
    ) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
        sections = []
        sums: dict[str, Decimal] = {}
        accounts = sorted(org.table("Accounts").values(), key=lambda a: a.get("Code", ""))
        for klass in classes:
            rows = []
            total = ZERO
            for account in accounts:
                if _account_class(account) != klass:
                    continue
                amount = totals.get(account["AccountID"], ZERO) * sign[klass]
                if amount == ZERO:
                    continue
                total += amount
                rows.append(
                    _row(
                        "Row",
                        _cell(account["Name"], account=account["AccountID"]),
                        _cell(_money(amount), account=account["AccountID"]),
                    )
                )
            title = _CLASS_TITLE[klass]
            rows.append(_row("SummaryRow", _cell(f"Total {title}"), _cell(_money(total))))
            sections.append({"RowType": "Section", "Title": title, "Rows": rows})
            sums[klass] = total
        return sections, sums

    def _profit_and_loss(self, org: Organisation, query: dict[str, str], today: date) -> dict:
        start = _date_param(query, "fromDate", today.replace(day=1))
        end = _date_param(query, "toDate", today)
        if end < start:
            raise ApiException("QueryParseException", "toDate must not be before fromDate.")
        totals = balances(org, start, end)
        sections, sums = self._sections(
            org, totals, ("REVENUE", "EXPENSE"), {"REVENUE": -1, "EXPENSE": 1}
        )
        profit = sums["REVENUE"] - sums["EXPENSE"]
        header = _row("Header", _cell(""), _cell(f"{start:%d %b %y} - {end:%d %b %y}"))
        net = {
            "RowType": "Section",
            "Title": "",
            "Rows": [_row("Row", _cell("Net Profit"), _cell(_money(profit)))],
        }
        return {
            "ReportID": "ProfitAndLoss",
            "ReportName": "Profit and Loss",
            "ReportType": "ProfitAndLoss",
            "ReportTitles": ["Profit & Loss", org.name, f"{start:%d %B %Y} to {end:%d %B %Y}"],
            "ReportDate": f"{today:%d %B %Y}",
            "Rows": [header, *sections, net],
        }

    def _balance_sheet(self, org: Organisation, query: dict[str, str], today: date) -> dict:
        end = _date_param(query, "date", today)
        totals = balances(org, None, end)
        sections, sums = self._sections(
            org,
            totals,
            ("ASSET", "LIABILITY", "EQUITY"),
            {"ASSET": 1, "LIABILITY": -1, "EQUITY": -1},
        )
        earnings = -sum(
            (
                amount
                for account_id, amount in totals.items()
                if _account_class(org.get("Accounts", account_id) or {}) in ("REVENUE", "EXPENSE")
            ),
            ZERO,
        )
        equity = sections[2]
        equity["Rows"].insert(
            len(equity["Rows"]) - 1,
            _row("Row", _cell("Current Year Earnings"), _cell(_money(earnings))),
        )
        equity_total = sums["EQUITY"] + earnings
        equity["Rows"][-1] = _row("SummaryRow", _cell("Total Equity"), _cell(_money(equity_total)))
        net_assets = sums["ASSET"] - sums["LIABILITY"]
        header = _row("Header", _cell(""), _cell(f"{end:%d %b %Y}"))
        summary = {
            "RowType": "Section",
            "Title": "",
            "Rows": [_row("SummaryRow", _cell("Net Assets"), _cell(_money(net_assets)))],
        }
        return {
            "ReportID": "BalanceSheet",
            "ReportName": "Balance Sheet",
            "ReportType": "BalanceSheet",
            "ReportTitles": ["Balance Sheet", org.name, f"As at {end:%d %B %Y}"],
            "ReportDate": f"{today:%d %B %Y}",
            "Rows": [header, *sections, summary],
        }

    def _trial_balance(self, org: Organisation, query: dict[str, str], today: date) -> dict:
        end = _date_param(query, "date", today)
        totals = balances(org, None, end)
        header = _row(
            "Header",
            _cell("Account"),
            _cell("Debit"),
            _cell("Credit"),
            _cell("YTD Debit"),
            _cell("YTD Credit"),
        )
        rows = [header]
        debit_total = credit_total = ZERO
        accounts = sorted(org.table("Accounts").values(), key=lambda a: a.get("Code", ""))
        for klass in _CLASS_ORDER:
            section_rows = []
            for account in accounts:
                if _account_class(account) != klass:
                    continue
                amount = totals.get(account["AccountID"], ZERO)
                if amount == ZERO:
                    continue
                debit = amount if amount > 0 else ZERO
                credit = -amount if amount < 0 else ZERO
                debit_total += debit
                credit_total += credit
                label = f"{account['Name']} ({account.get('Code', '')})"
                attribute = {"account": account["AccountID"]}
                section_rows.append(
                    _row(
                        "Row",
                        _cell(label, **attribute),
                        _cell(_money(debit), **attribute),
                        _cell(_money(credit), **attribute),
                        _cell(_money(debit), **attribute),
                        _cell(_money(credit), **attribute),
                    )
                )
            rows.append({"RowType": "Section", "Title": _CLASS_TITLE[klass], "Rows": section_rows})
        rows.append(
            {
                "RowType": "Section",
                "Title": "",
                "Rows": [
                    _row(
                        "SummaryRow",
                        _cell("Total"),
                        _cell(_money(debit_total)),
                        _cell(_money(credit_total)),
                        _cell(_money(debit_total)),
                        _cell(_money(credit_total)),
                    )
                ],
            }
        )
        return {
            "ReportID": "TrialBalance",
            "ReportName": "Trial Balance",
            "ReportType": "TrialBalance",
            "ReportTitles": ["Trial Balance", org.name, f"As at {end:%d %B %Y}"],
            "ReportDate": f"{today:%d %B %Y}",
            "Rows": rows,
        }

    def _aged(self, org: Organisation, query: dict[str, str], today: date, sales: bool) -> dict:
        contact_id = next((v for k, v in query.items() if k.lower() == "contactid"), "")
        contact = org.get("Contacts", contact_id) if contact_id else None
        if contact is None:
            raise ApiException(
                "QueryParseException", "contactId must be the ContactID of a contact."
            )
        end = _date_param(query, "date", today)
        wanted = "ACCREC" if sales else "ACCPAY"
        header = _row(
            "Header",
            _cell("Date"),
            _cell("Reference"),
            _cell("Due Date"),
            _cell("Total"),
            _cell("Paid"),
            _cell("Credited"),
            _cell("Due"),
        )
        rows = []
        due_total = ZERO
        invoices = sorted(
            (
                i
                for i in org.table("Invoices").values()
                if i["Type"] == wanted
                and i["Contact"]["ContactID"] == contact["ContactID"]
                and i["Status"] in ("AUTHORISED", "PAID")
                and i.get("Date", end) <= end
            ),
            key=lambda i: i.get("Date") or end,
        )
        for invoice in invoices:
            due = Decimal(str(invoice.get("AmountDue", 0)))
            if due == ZERO:
                continue
            due_total += due
            attribute = {"invoiceID": invoice["InvoiceID"]}
            rows.append(
                _row(
                    "Row",
                    _cell(f"{invoice.get('Date')}", **attribute),
                    _cell(
                        invoice.get("InvoiceNumber") or invoice.get("Reference") or "", **attribute
                    ),
                    _cell(f"{invoice.get('DueDate') or ''}", **attribute),
                    _cell(_money(Decimal(str(invoice.get("Total", 0)))), **attribute),
                    _cell(_money(Decimal(str(invoice.get("AmountPaid", 0)))), **attribute),
                    _cell(_money(Decimal(str(invoice.get("AmountCredited", 0)))), **attribute),
                    _cell(_money(due), **attribute),
                )
            )
        rows.append(
            _row(
                "SummaryRow",
                _cell("Total"),
                *(_cell("") for _ in range(5)),
                _cell(_money(due_total)),
            )
        )
        name = "Aged Receivables By Contact" if sales else "Aged Payables By Contact"
        report_type = "AgedReceivablesByContact" if sales else "AgedPayablesByContact"
        return {
            "ReportID": report_type,
            "ReportName": name,
            "ReportType": report_type,
            "ReportTitles": [
                "Invoices" if sales else "Bills",
                contact["Name"],
                f"As at {end:%d %B %Y}",
            ],
            "ReportDate": f"{today:%d %B %Y}",
            "Rows": [header, {"RowType": "Section", "Title": "", "Rows": rows}],
        }

    def _aged_receivables(self, org: Organisation, query: dict[str, str], today: date) -> dict:
        return self._aged(org, query, today, sales=True)

    def _aged_payables(self, org: Organisation, query: dict[str, str], today: date) -> dict:
        return self._aged(org, query, today, sales=False)


RESOURCE_RULES = [ReportRules]
