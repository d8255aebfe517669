"""The other wire formats Xero answers in: XML when the client asks for no JSON, and a
PDF of a document when it asks for ``application/pdf``.

Sources: Xero answers XML unless the request says ``Accept: application/json``
(developer.xero.com/documentation/api/accounting/requests-and-responses; every SDK sends
the header for that reason). ``GET /Invoices/{id}`` (also CreditNotes, Quotes,
PurchaseOrders) with ``Accept: application/pdf`` returns the document as a PDF (spec
operations ``getInvoiceAsPdf`` etc., whose ``x-path`` is the record's own path).

The XML mirrors the JSON body: the same element names, list items named by the singular
of their list (``<Invoices><Invoice>``), dates in ISO form, errors as ``<ApiException>``.
The PDF is a small valid one-page document naming the record and its totals, not Xero's
invoice template.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from xero_sandbox.dates import ms_date

PDF_RESOURCES = {"invoices", "creditnotes", "quotes", "purchaseorders"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_NAME_START = re.compile(r"[A-Za-z_]")
_SINGULAR = {
    "Addresses": "Address",
    "Tracking": "TrackingCategory",
    "Allocations": "Allocation",
    "HistoryRecords": "HistoryRecord",
    "Elements": "DataContractBase",
}


def wants_pdf(accept: str | None) -> bool:
    return "application/pdf" in (accept or "").lower()


def wants_json(accept: str | None) -> bool:
    """True when the client accepts JSON; Xero answers XML otherwise."""
    text = (accept or "").lower()
    return "json" in text


def singular(name: str) -> str:
    if name in _SINGULAR:
        return _SINGULAR[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("sses"):
        return name[:-2]
    if name.endswith("s"):
        return name[:-1]
    return name


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        when = ms_date(value)
        if when is not None:  # the wall time in the value's own offset
            return when.strftime("%Y-%m-%dT%H:%M:%S")
        return escape(_CONTROL.sub("", value))
    return escape(str(value))


def _xml_name(name: str) -> str:
    """A valid XML element name for a JSON key (an echoed element may hold any key)."""
    safe = _NOT_NAME.sub("_", name) or "_"
    return safe if _NAME_START.match(safe) else "_" + safe


def _element(name: str, value: Any, out: list[str]) -> None:
    if value is None:
        return
    name = _xml_name(name)
    if isinstance(value, dict):
        out.append(f"<{name}>")
        for key, child in value.items():
            _element(key, child, out)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        out.append(f"<{name}>")
        item = singular(name)
        for child in value:
            _element(item, child, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_xml_value(value)}</{name}>")


def to_xml(body: Any) -> bytes:
    """A JSON response body as Xero's XML (``<Response>`` or ``<ApiException>``)."""
    root = "ApiException" if isinstance(body, dict) and "ErrorNumber" in body else "Response"
    out = ['<?xml version="1.0" encoding="utf-8"?>']
    out.append(
        f'<{root} xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    )
    for key, value in (body or {}).items() if isinstance(body, dict) else []:
        _element(key, value, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


def _pdf_text(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def to_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with ``title`` and ``lines`` in Helvetica (valid xref offsets)."""
    text = [f"BT /F1 18 Tf 72 760 Td ({_pdf_text(title)}) Tj ET"]
    y = 730
    for line in lines[:40]:
        text.append(f"BT /F1 11 Tf 72 {y} Td ({_pdf_text(line)}) Tj ET")
        y -= 16
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def document_pdf(resource: str, record: dict[str, Any]) -> bytes:
    """The PDF of one rendered document (invoice, credit note, quote, purchase order)."""
    label = singular(resource)
    number = next(
        (record[k] for k in record if k.endswith("Number") and isinstance(record[k], str)), ""
    )
    title = f"{label} {number}".strip()
    lines = [f"Contact: {(record.get('Contact') or {}).get('Name', '')}"]
    lines.append(f"Status: {record.get('Status', '')}")
    for line in record.get("LineItems") or []:
        lines.append(
            f"{line.get('Description', '')}  x{line.get('Quantity', '')}  "
            f"{line.get('LineAmount', '')}"
        )
    for key in ("SubTotal", "TotalTax", "Total"):
        if key in record:
            lines.append(f"{key}: {record[key]}")
    return to_pdf(title, lines)
