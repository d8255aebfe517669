"""Tests for the Xero ``where`` expression compiler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from xero_sandbox.where import WhereSyntaxError, compile_where, parse_xero_datetime

CONTACT_ID = "96988E67-ECF9-466D-BFBF-0AFA1725A649"

# 1769817600000 ms == 2026-01-31T00:00:00Z; 1769855400000 ms == 2026-01-31T10:30:00Z
INVOICE: dict[str, Any] = {
    "InvoiceID": "2b0c6a3e-1111-4c2a-9d3e-000000000001",
    "Type": "ACCREC",
    "Status": "AUTHORISED",
    "InvoiceNumber": "INV-0042",
    "Reference": 'Say "hi"',
    "Total": 100.50,
    "AmountDue": 0,
    "SubTotal": "95.00",
    "IsDiscounted": False,
    "HasAttachments": True,
    "Date": "/Date(1769817600000+0000)/",
    "DueDate": "/Date(1769855400000)/",
    "UpdatedDateUTC": "/Date(1769855400000+1300)/",
    "DateString": "2026-01-31T00:00:00",
    "Contact": {"ContactID": CONTACT_ID.lower(), "Name": "Acme Widgets Ltd", "IsSupplier": True},
}


def matches(expression: str, record: dict[str, Any] | None = None) -> bool:
    return compile_where(expression)(INVOICE if record is None else record)


# --------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('Status=="AUTHORISED"', True, id="eq-string"),
        pytest.param('Status == "DRAFT"', False, id="eq-string-mismatch"),
        pytest.param('Status!="DRAFT"', True, id="ne-string"),
        pytest.param('Status!="AUTHORISED"', False, id="ne-string-same"),
        pytest.param('Status="AUTHORISED"', True, id="single-equals-is-equality"),
        pytest.param('Status<>"AUTHORISED"', False, id="angle-ne"),
        pytest.param("Total==100.5", True, id="eq-number-decimal"),
        pytest.param("Total==100.50", True, id="eq-number-trailing-zero"),
        pytest.param("Total!=100.5", False, id="ne-number"),
        pytest.param("Total>100", True, id="gt-true"),
        pytest.param("Total>100.50", False, id="gt-equal-is-false"),
        pytest.param("Total>=100.50", True, id="ge-equal"),
        pytest.param("Total>=100.51", False, id="ge-false"),
        pytest.param("Total<100.51", True, id="lt-true"),
        pytest.param("Total<100.5", False, id="lt-equal-is-false"),
        pytest.param("Total<=100.5", True, id="le-equal"),
        pytest.param("Total<=100.49", False, id="le-false"),
        pytest.param("AmountDue==0", True, id="eq-int-zero"),
        pytest.param("AmountDue>-1", True, id="negative-literal"),
        pytest.param("SubTotal==95", True, id="numeric-string-field"),
        pytest.param("Total>=100.50m", True, id="csharp-decimal-suffix"),
        pytest.param("100<Total", True, id="literal-on-left-lt"),
        pytest.param("100.5>=Total", True, id="literal-on-left-ge"),
        pytest.param("200<=Total", False, id="literal-on-left-le-false"),
        pytest.param('"AUTHORISED"==Status', True, id="literal-on-left-eq"),
    ],
)
def test_comparison_operators(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_decimal_comparison_avoids_float_rounding() -> None:
    record = {"Total": 0.1 + 0.2}  # 0.30000000000000004 as a float
    assert compile_where("Total>0.3")(record) is True
    assert compile_where("Total==0.30000000000000004")(record) is True
    assert compile_where("Total>=100.50")({"Total": "100.50"}) is True
    assert compile_where("Total>=100.50")({"Total": "100.49"}) is False


def test_number_literal_does_not_match_boolean_field() -> None:
    # bool is an int subclass in Python; Xero would not treat true as 1.
    assert compile_where("HasAttachments==1")(INVOICE) is False


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('Status=="authorised"', True, id="eq-ignores-case"),
        pytest.param('Status!="Authorised"', False, id="ne-ignores-case"),
        pytest.param('Type<"ACCREC"', False, id="lt-same-string"),
        pytest.param('Type<="accrec"', True, id="le-ignores-case"),
        pytest.param('Type<"accpay"', False, id="lt-ordinal-ci-false"),
        pytest.param('Type>"accpay"', True, id="gt-ordinal-ci"),
        pytest.param('InvoiceNumber>="INV-0042"', True, id="ge-equal-string"),
        pytest.param('InvoiceNumber<"INV-0100"', True, id="lt-string"),
        pytest.param('Reference=="Say \\"hi\\""', True, id="escaped-quote"),
        pytest.param('Reference=="say \\"HI\\""', True, id="escaped-quote-ci"),
    ],
)
def test_string_comparisons(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_string_ordering_is_ordinal_ignore_case() -> None:
    # .NET OrdinalIgnoreCase upper-cases: '_' (0x5F) sorts after 'Z' (0x5A), so after "a".
    assert compile_where('Name>"a"')({"Name": "_x"}) is True
    assert compile_where('Name<"B"')({"Name": "a"}) is True
    assert compile_where('Name<"b"')({"Name": "A"}) is True


# --------------------------------------------------------------------------- keys and paths


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('status=="AUTHORISED"', True, id="lowercase-key"),
        pytest.param('STATUS=="AUTHORISED"', True, id="uppercase-key"),
        pytest.param("updateddateutc>=DateTime(2026,1,31)", True, id="mixed-case-key"),
        pytest.param('Contact.Name=="Acme Widgets Ltd"', True, id="nested-path"),
        pytest.param('contact.name=="acme widgets ltd"', True, id="nested-path-ci"),
        pytest.param("Contact.IsSupplier==true", True, id="nested-bool"),
        pytest.param('Contact.Missing=="x"', False, id="nested-missing"),
        pytest.param('Contact.Name.First=="x"', False, id="path-through-string"),
        pytest.param('Nope.Name=="x"', False, id="missing-parent"),
    ],
)
def test_field_paths(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_exact_key_wins_over_case_insensitive_match() -> None:
    record = {"name": "lower", "Name": "upper"}
    assert compile_where('Name=="upper"')(record) is True
    assert compile_where('name=="lower"')(record) is True


# --------------------------------------------------------------------------- missing fields


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('Missing=="x"', False, id="eq-string"),
        pytest.param('Missing!="x"', True, id="ne-string"),
        pytest.param("Missing>0", False, id="gt-number"),
        pytest.param("Missing<0", False, id="lt-number"),
        pytest.param("Missing<=0", False, id="le-number"),
        pytest.param("Missing==null", True, id="eq-null"),
        pytest.param("Missing!=null", False, id="ne-null"),
        pytest.param("null==Missing", True, id="null-on-left"),
        pytest.param("Missing==false", False, id="eq-false"),
        pytest.param("Missing", False, id="bare"),
        pytest.param("!Missing", True, id="not-bare"),
        pytest.param('Missing.Contains("a")', False, id="contains"),
        pytest.param('NOT Missing.Contains("a")', True, id="not-contains"),
        pytest.param('Missing.ToLower()=="a"', False, id="tolower"),
        pytest.param('Missing==Guid("96988e67-ecf9-466d-bfbf-0afa1725a649")', False, id="guid"),
        pytest.param("Missing<DateTime(2030,1,1)", False, id="datetime"),
        pytest.param("Status==null", False, id="present-eq-null"),
        pytest.param("Status!=null", True, id="present-ne-null"),
        pytest.param("Status>null", False, id="ordering-with-null"),
    ],
)
def test_missing_fields(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_explicit_json_null_is_missing() -> None:
    record = {"Name": None}
    assert compile_where("Name==null")(record) is True
    assert compile_where('Name=="x"')(record) is False
    assert compile_where('Name.StartsWith("x")')(record) is False


# --------------------------------------------------------------------------- booleans


@pytest.mark.parametrize(
    ("expression", "record", "expected"),
    [
        pytest.param("IsSupplier", {"IsSupplier": True}, True, id="bare-true"),
        pytest.param("IsSupplier", {"IsSupplier": False}, False, id="bare-false"),
        pytest.param("IsSupplier", {"IsSupplier": "true"}, True, id="bare-string-true"),
        pytest.param("IsSupplier", {"IsSupplier": 1}, False, id="bare-int-is-not-bool"),
        pytest.param("IsSupplier", {"IsSupplier": "yes"}, False, id="bare-non-bool-string"),
        pytest.param("IsSupplier==true", {"IsSupplier": True}, True, id="eq-true"),
        pytest.param("IsSupplier==TRUE", {"IsSupplier": True}, True, id="eq-true-uppercase"),
        pytest.param("IsSupplier==false", {"IsSupplier": True}, False, id="eq-false"),
        pytest.param("IsSupplier!=false", {"IsSupplier": True}, True, id="ne-false"),
        pytest.param("IsSupplier==False", {"IsSupplier": False}, True, id="eq-False"),
        pytest.param("IsSupplier==true", {"IsSupplier": "True"}, True, id="string-field-true"),
        pytest.param("IsSupplier==true", {"IsSupplier": "x"}, False, id="non-bool-field"),
        pytest.param("NOT IsSupplier", {"IsSupplier": False}, True, id="not-keyword"),
        pytest.param("!IsSupplier", {"IsSupplier": True}, False, id="bang"),
        pytest.param("!!IsSupplier", {"IsSupplier": True}, True, id="double-bang"),
        pytest.param("not not IsSupplier", {"IsSupplier": True}, True, id="double-not"),
        pytest.param("true", {}, True, id="constant-true"),
        pytest.param("false", {}, False, id="constant-false"),
        pytest.param("true==IsSupplier", {"IsSupplier": True}, True, id="literal-left"),
    ],
)
def test_booleans(expression: str, record: dict[str, Any], expected: bool) -> None:
    assert compile_where(expression)(record) is expected


# --------------------------------------------------------------------------- logic


def record_abc(a: bool, b: bool, c: bool) -> dict[str, bool]:
    return {"A": a, "B": b, "C": c}


@pytest.mark.parametrize(
    ("a", "b", "c"),
    [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)],
    ids=lambda v: "T" if v else "F",
)
@pytest.mark.parametrize(
    ("expression", "truth"),
    [
        pytest.param("A OR B AND C", lambda a, b, c: a or (b and c), id="or-and"),
        pytest.param("A AND B OR C", lambda a, b, c: (a and b) or c, id="and-or"),
        pytest.param("(A OR B) AND C", lambda a, b, c: (a or b) and c, id="parens-or-and"),
        pytest.param("A AND (B OR C)", lambda a, b, c: a and (b or c), id="and-parens-or"),
        pytest.param("A || B && C", lambda a, b, c: a or (b and c), id="symbols"),
        pytest.param("a or b and c", lambda a, b, c: a or (b and c), id="lowercase-keywords"),
        pytest.param("NOT A AND B", lambda a, b, c: (not a) and b, id="not-binds-tightest"),
        pytest.param("NOT (A AND B)", lambda a, b, c: not (a and b), id="not-parens"),
        pytest.param("!(A || B) || C", lambda a, b, c: (not (a or b)) or c, id="bang-parens"),
        pytest.param("((A))", lambda a, b, c: a, id="nested-parens"),
        pytest.param("A And B Or Not C", lambda a, b, c: (a and b) or not c, id="mixed-case"),
        pytest.param(
            "A==true AND B!=false OR C==true",
            lambda a, b, c: (a and b) or c,
            id="comparisons-as-operands",
        ),
    ],
)
def test_boolean_logic(expression: str, truth: Any, a: bool, b: bool, c: bool) -> None:
    assert compile_where(expression)(record_abc(a, b, c)) is truth(a, b, c)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('Status=="AUTHORISED" AND Type=="ACCREC"', True, id="and"),
        pytest.param('Status=="DRAFT" OR Type=="ACCREC"', True, id="or"),
        pytest.param('Status=="DRAFT" OR Type=="ACCPAY" AND Total>0', False, id="or-and"),
        pytest.param('(Status=="DRAFT" OR Type=="ACCREC") AND Total>0', True, id="parens"),
        pytest.param('Status=="AUTHORISED"&&Total>=100.50', True, id="and-no-spaces"),
        pytest.param('Status=="AUTHORISED"and Total>0', True, id="keyword-after-string"),
        pytest.param(
            '  ( Status  ==  "AUTHORISED" )\n\tAND\r\n( Total >= 100 )  ', True, id="whitespace"
        ),
        pytest.param('NOT Status=="DRAFT"', True, id="not-comparison"),
    ],
)
def test_combined_conditions(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


# --------------------------------------------------------------------------- Guid


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param(f'Contact.ContactID==Guid("{CONTACT_ID}")', True, id="upper-literal"),
        pytest.param(f'Contact.ContactID==guid("{CONTACT_ID.lower()}")', True, id="lower-fn"),
        pytest.param(f'Contact.ContactID==GUID("{CONTACT_ID}")', True, id="upper-fn"),
        pytest.param(f'Contact.ContactID = Guid("{CONTACT_ID}")', True, id="single-equals"),
        pytest.param(f'Contact.ContactID==Guid("{{{CONTACT_ID}}}")', True, id="braced"),
        pytest.param(f'Guid("{CONTACT_ID}")==Contact.ContactID', True, id="literal-left"),
        pytest.param(f'Contact.ContactID!=Guid("{CONTACT_ID}")', False, id="ne-same"),
        pytest.param(
            'Contact.ContactID==Guid("00000000-0000-0000-0000-000000000000")', False, id="other"
        ),
        pytest.param(
            'Contact.ContactID!=Guid("00000000-0000-0000-0000-000000000000")', True, id="ne-other"
        ),
        pytest.param(f'Contact.ContactID=="{CONTACT_ID}"', True, id="plain-string-ci"),
    ],
)
def test_guid(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_guid_against_non_guid_field() -> None:
    predicate = compile_where(f'InvoiceNumber==Guid("{CONTACT_ID}")')
    assert predicate(INVOICE) is False
    assert compile_where(f'InvoiceNumber!=Guid("{CONTACT_ID}")')(INVOICE) is True


# --------------------------------------------------------------------------- DateTime


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("Date==DateTime(2026,01,31)", True, id="date-eq-with-offset"),
        pytest.param("Date>=DateTime(2026,01,31)", True, id="date-ge"),
        pytest.param("Date>DateTime(2026,01,31)", False, id="date-gt-same-instant"),
        pytest.param("Date<DateTime(2026,02,01)", True, id="date-lt"),
        pytest.param("Date<DateTime(2026,01,30)", False, id="date-lt-false"),
        pytest.param("Date != DateTime(2026, 1, 30)", True, id="date-ne-spaces"),
        pytest.param("DueDate==DateTime(2026,01,31,10,30,00)", True, id="no-offset-eq-6-args"),
        pytest.param("DueDate>DateTime(2026,01,31,10,29,59)", True, id="no-offset-gt"),
        pytest.param("DueDate>DateTime(2026,01,31,10,30,00)", False, id="no-offset-gt-false"),
        pytest.param("DueDate<DateTime(2026,1,31,10,30,0,1)", True, id="7-args-ms"),
        pytest.param('DueDate==DateTime("2026-01-31T10:30:00")', True, id="iso-string-literal"),
        pytest.param('DueDate==DateTime("2026-01-31T21:30:00+11:00")', True, id="iso-offset"),
        pytest.param('DueDate==DateTime("2026-01-31T10:30:00Z")', True, id="iso-z"),
        pytest.param("DueDate==datetime(2026,1,31,10,30,0)", True, id="lower-fn"),
        pytest.param("DueDate==DATETIME(2026,1,31,10,30,0)", True, id="upper-fn"),
        # The +1300 offset in /Date(ms+1300)/ is informational; ms are already UTC.
        pytest.param("UpdatedDateUTC==DateTime(2026,1,31,10,30,0)", True, id="offset-1300"),
        pytest.param("DateString==DateTime(2026,01,31)", True, id="iso-field"),
        pytest.param("DateString<DateTime(2026,01,31,0,0,1)", True, id="iso-field-lt"),
        pytest.param("DateTime(2026,01,31)<=Date", True, id="literal-left"),
        pytest.param("Status==DateTime(2026,01,31)", False, id="non-date-field"),
        pytest.param("Status!=DateTime(2026,01,31)", True, id="non-date-field-ne"),
        pytest.param(
            "Date>=DateTime(2026,01,01) AND Date<DateTime(2026,02,01)", True, id="date-range"
        ),
    ],
)
def test_datetime(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/Date(1700000000000+0000)/", datetime(2023, 11, 14, 22, 13, 20), id="z"),
        pytest.param("/Date(1700000000000)/", datetime(2023, 11, 14, 22, 13, 20), id="no-offset"),
        pytest.param("/Date(1700000000000-0500)/", datetime(2023, 11, 14, 22, 13, 20), id="neg"),
        pytest.param("/Date(1700000000123)/", datetime(2023, 11, 14, 22, 13, 20, 123000), id="ms"),
        pytest.param("/Date(-86400000)/", datetime(1969, 12, 31), id="before-epoch"),
        pytest.param("2026-01-31T00:00:00", datetime(2026, 1, 31), id="iso-naive"),
        pytest.param("2026-01-31T10:00:00+10:00", datetime(2026, 1, 31), id="iso-offset"),
        pytest.param("2026-01-31", datetime(2026, 1, 31), id="iso-date-only"),
        pytest.param(datetime(2026, 1, 31), datetime(2026, 1, 31), id="python-datetime"),
    ],
)
def test_parse_xero_datetime(value: Any, expected: datetime) -> None:
    parsed = parse_xero_datetime(value)
    assert parsed == expected.replace(tzinfo=UTC)
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["ACCREC", "/Date(abc)/", "", 12, None, True])
def test_parse_xero_datetime_rejects_non_dates(value: Any) -> None:
    assert parse_xero_datetime(value) is None


def test_datetime_against_wire_values_with_offsets() -> None:
    predicate = compile_where("Date>=DateTime(2023,11,14,22,13,20)")
    assert predicate({"Date": "/Date(1700000000000+0000)/"}) is True
    assert predicate({"Date": "/Date(1700000000000+1300)/"}) is True
    assert predicate({"Date": "/Date(1699999999999)/"}) is False


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('Contact.Name.Contains("Widget")', True, id="contains"),
        pytest.param('Contact.Name.Contains("widget")', True, id="contains-ci"),
        pytest.param('Contact.Name.Contains("Gadget")', False, id="contains-false"),
        pytest.param('Contact.Name.Contains("")', True, id="contains-empty"),
        pytest.param('Contact.Name.StartsWith("acme")', True, id="startswith-ci"),
        pytest.param('Contact.Name.StartsWith("Widgets")', False, id="startswith-false"),
        pytest.param('Contact.Name.EndsWith("LTD")', True, id="endswith-ci"),
        pytest.param('Contact.Name.EndsWith("Acme")', False, id="endswith-false"),
        pytest.param('Contact.Name.contains("acme")', True, id="method-name-ci"),
        pytest.param('Contact.Name.ToLower()=="acme widgets ltd"', True, id="tolower"),
        pytest.param('Contact.Name.ToUpper()=="ACME WIDGETS LTD"', True, id="toupper"),
        pytest.param('Contact.Name.ToUpper() == "acme widgets ltd"', True, id="toupper-eq-ci"),
        pytest.param('Contact.Name.ToLower().StartsWith("ACME")', True, id="chained"),
        pytest.param('Contact.Name.Contains("Acme")==true', True, id="compare-to-true"),
        pytest.param('Contact.Name.Contains("Acme")==false', False, id="compare-to-false"),
        pytest.param('NOT Contact.Name.Contains("Acme")', False, id="not-contains"),
        pytest.param('!Contact.Name.EndsWith("x") && Type=="ACCREC"', True, id="bang-and"),
        pytest.param('InvoiceNumber.Contains("0042")', True, id="contains-in-number-string"),
        pytest.param('Total.Contains("100")', True, id="contains-on-number"),
        pytest.param('Contact.Contains("Acme")', False, id="contains-on-object"),
        pytest.param('Reference.Contains("\\"hi\\"")', True, id="contains-escaped-quote"),
    ],
)
def test_methods(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


# --------------------------------------------------------------------------- blank input


@pytest.mark.parametrize("expression", ["", "   ", "\n\t"])
def test_blank_expression_matches_everything(expression: str) -> None:
    assert compile_where(expression)({}) is True
    assert compile_where(expression)(INVOICE) is True


def test_predicate_is_reusable_across_records() -> None:
    predicate = compile_where('Type=="ACCPAY" OR Total>1000')
    records = [
        {"Type": "ACCPAY", "Total": 1},
        {"Type": "ACCREC", "Total": 5000},
        {"Type": "ACCREC", "Total": 5},
        {},
    ]
    assert [predicate(r) for r in records] == [True, True, False, False]


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("expression", "fragment", "position"),
    [
        pytest.param('(Name=="Bob"))', "Unexpected token ')' at position 13", 13, id="extra-paren"),
        pytest.param('(Name=="Bob"', "end of expression at position 12", 12, id="unclosed-paren"),
        pytest.param(
            'Name=="Bob" Status',
            "Unexpected token 'Status' at position 12",
            12,
            id="trailing-garbage",
        ),
        pytest.param(
            'Name=="Bob" "x"', "Unexpected token '\"x\"' at position 12", 12, id="trailing-string"
        ),
        pytest.param('Name=="Bob" AND', "end of expression at position 15", 15, id="dangling-and"),
        pytest.param("OR Name", "Unexpected token 'OR' at position 0", 0, id="leading-or"),
        pytest.param("Name==", "end of expression at position 6", 6, id="missing-rhs"),
        pytest.param("==1", "Unexpected token '==' at position 0", 0, id="missing-lhs"),
        pytest.param("Total===1", "Unexpected token '=' at position 7", 7, id="triple-equals"),
        pytest.param("Total=>1", "Unexpected token '>' at position 6", 6, id="arrow"),
        pytest.param("Total ~ 1", "Unexpected character '~' at position 6", 6, id="tilde"),
        pytest.param("A & B", "Unexpected character '&' at position 2", 2, id="single-amp"),
        pytest.param("A | B", "Unexpected character '|' at position 2", 2, id="single-pipe"),
        pytest.param(
            "Name=='Bob'", "Unexpected character ''' at position 6", 6, id="single-quotes"
        ),
        pytest.param(
            'Name=="Bob', "Unterminated string starting at position 6", 6, id="unterminated-string"
        ),
        pytest.param('Name=="a\\qb"', "Unknown escape '\\q' at position 8", 8, id="bad-escape"),
        pytest.param("Total>1.2.3", "Invalid number at position 6", 6, id="bad-number"),
        pytest.param("Total>12abc", "Invalid number at position 6", 6, id="number-then-letters"),
        pytest.param(
            'Foo("x")==1', "Unknown function 'Foo' at position 0", 0, id="unknown-function"
        ),
        pytest.param(
            'Name.Matches("x")', "Unknown method 'Matches' at position 5", 5, id="unknown-method"
        ),
        pytest.param(
            'Name.Contains("a").EndsWith("b")', "Cannot call 'EndsWith'", 19, id="method-on-bool"
        ),
        pytest.param(
            "Name.ToLower().Length==1",
            "Unexpected token 'Length' at position 15",
            15,
            id="property-after-method",
        ),
        pytest.param(
            "Name.Contains(1)", "Unexpected token '1' at position 14", 14, id="contains-non-string"
        ),
        pytest.param(
            "Name.Contains()", "Unexpected token ')' at position 14", 14, id="contains-no-arg"
        ),
        pytest.param(
            "Name.ToLower()", "end of expression at position 14", 14, id="bare-string-method"
        ),
        pytest.param("Name.", "end of expression at position 5", 5, id="dangling-dot"),
        pytest.param('Guid("nope")==Id', 'Invalid Guid "nope" at position 0', 0, id="invalid-guid"),
        pytest.param(
            "Id==Guid(123)", "Unexpected token '123' at position 9", 9, id="guid-number-arg"
        ),
        pytest.param("D==DateTime(2026,13,1)", "Invalid DateTime at position 3", 3, id="month-13"),
        pytest.param(
            "D==DateTime(2026,1)", "takes 3, 6 or 7 numbers, got 2", 3, id="datetime-arity"
        ),
        pytest.param(
            "D==DateTime(2026,1,1.5)",
            "Unexpected token '1.5' at position 19",
            19,
            id="datetime-fraction",
        ),
        pytest.param(
            'D==DateTime("soon")',
            'Invalid DateTime "soon" at position 3',
            3,
            id="datetime-bad-string",
        ),
        pytest.param(
            "D==DateTime(2026,1,1", "end of expression at position 20", 20, id="datetime-unclosed"
        ),
        pytest.param("Name==Other", "not two fields", 4, id="field-vs-field"),
        pytest.param("1==1", "not two literals", 1, id="literal-vs-literal"),
        pytest.param('"x"', "Expected a condition at position 0", 0, id="bare-string"),
        pytest.param("IsSupplier>true", "cannot compare booleans", 10, id="bool-ordering"),
        pytest.param("()", "Unexpected token ')' at position 1", 1, id="empty-parens"),
        pytest.param("NOT", "end of expression at position 3", 3, id="bare-not"),
    ],
)
def test_syntax_errors(expression: str, fragment: str, position: int) -> None:
    with pytest.raises(WhereSyntaxError) as excinfo:
        compile_where(expression)
    assert fragment in str(excinfo.value)
    assert f"position {position}" in str(excinfo.value)
    assert excinfo.value.position == position


def test_syntax_error_is_value_error() -> None:
    with pytest.raises(ValueError, match=r"position \d+"):
        compile_where("Status==")
