"""Attachments on documents: upload, list, download (spec v16.1.0 ``/{Resource}/{id}/
Attachments`` paths).

* ``PUT`` or ``POST /{Resource}/{id}/Attachments/{FileName}`` with the file's bytes as the
  body (any Content-Type; the spec documents ``application/octet-stream``) stores it and
  answers ``{"Attachments": [{AttachmentID, FileName, Url, MimeType, ContentLength}]}``;
  a second upload with the same file name replaces the file (same AttachmentID).
  ``IncludeOnline=true`` (Invoices, CreditNotes) is kept on the attachment.
* ``GET /{Resource}/{id}/Attachments`` lists them; ``GET .../Attachments/{AttachmentID}``
  or ``.../{FileName}`` answers the bytes with the file's MIME type.
* Every call needs the ``accounting.attachments`` scope (spec security of these paths).
* The upload is bound by the sandbox's 3.5 MB request limit; a record holds at most 10
  attachments (Xero's attachments docs; treated as an assumption here).
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any
from urllib.parse import quote

from xero_sandbox.accounting import service
from xero_sandbox.accounting.base import ResourceRules, WriteContext, query_flag
from xero_sandbox.errors import NotFound, ValidationException
from xero_sandbox.organisation import new_id

ATTACHABLE = frozenset(
    {
        "accounts",
        "banktransactions",
        "banktransfers",
        "contacts",
        "creditnotes",
        "invoices",
        "manualjournals",
        "purchaseorders",
        "quotes",
        "receipts",
        "repeatinginvoices",
    }
)
MAX_PER_RECORD = 10
MAX_NAME = 255
TABLE = "Attachments"


def is_attachment_route(segments: list[str]) -> bool:
    return len(segments) >= 3 and segments[2].lower() == "attachments"


def _owner(rules: ResourceRules, record: dict[str, Any]) -> str:
    return f"{rules.name}/{record[rules.id_field]}".lower()


def _of(ctx: WriteContext, rules: ResourceRules, record: dict[str, Any]) -> list[dict]:
    owner = _owner(rules, record)
    return [a for a in ctx.org.table(TABLE).values() if a["_owner"] == owner]


def _public(attachment: dict[str, Any], base_url: str, rules: ResourceRules, record: dict) -> dict:
    url = (
        f"{base_url}/api.xro/2.0/{rules.name}/{record[rules.id_field]}/Attachments/"
        f"{quote(attachment['FileName'])}"
    )
    out = {
        "AttachmentID": attachment["AttachmentID"],
        "FileName": attachment["FileName"],
        "Url": url,
        "MimeType": attachment["MimeType"],
        "ContentLength": attachment["ContentLength"],
    }
    if "IncludeOnline" in attachment:
        out["IncludeOnline"] = attachment["IncludeOnline"]
    return out


def handle(
    ctx: WriteContext,
    rules: ResourceRules,
    method: str,
    segments: list[str],
    body: bytes,
    content_type: str | None,
    query: dict[str, str],
    base_url: str,
) -> service.Result:
    """Route ``/{Resource}/{id}/Attachments[/{key}]`` for ``method``."""
    if rules.name.lower() not in ATTACHABLE or len(segments) > 4:
        raise NotFound()
    record = service.get_record(ctx.org, rules, segments[1])
    key = segments[3] if len(segments) == 4 else None
    if method == "GET" and key is None:
        listed = [_public(a, base_url, rules, record) for a in _of(ctx, rules, record)]
        return service.Listing(TABLE, listed)
    if method == "GET":
        wanted = key.lower()
        for attachment in _of(ctx, rules, record):
            if wanted in (attachment["AttachmentID"].lower(), attachment["FileName"].lower()):
                content = base64.b64decode(attachment["_content"])
                return service.FileContent(content, attachment["MimeType"])
        raise NotFound()
    if method in ("PUT", "POST") and key is not None:
        return _upload(ctx, rules, record, key, body, content_type, query, base_url)
    raise NotFound()


def _upload(
    ctx: WriteContext,
    rules: ResourceRules,
    record: dict[str, Any],
    file_name: str,
    body: bytes,
    content_type: str | None,
    query: dict[str, str],
    base_url: str,
) -> service.Result:
    errors = []
    if (
        not file_name.strip()
        or len(file_name) > MAX_NAME
        or "/" in file_name
        or not file_name.strip(".")
    ):
        errors.append(f"The file name must be 1 to {MAX_NAME} characters, without '/'.")
    if not body:
        errors.append("The attachment is empty: send the file's bytes as the request body.")
    existing = _of(ctx, rules, record)
    same = next((a for a in existing if a["FileName"].lower() == file_name.lower()), None)
    if same is None and len(existing) >= MAX_PER_RECORD:
        errors.append(f"A document can have at most {MAX_PER_RECORD} attachments.")
    if errors:
        raise ValidationException(errors, {"FileName": file_name})
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media or media == "application/octet-stream":
        media = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    attachment: dict[str, Any] = {
        "AttachmentID": same["AttachmentID"] if same else new_id(),
        "FileName": file_name,
        "MimeType": media,
        "ContentLength": len(body),
        "_owner": _owner(rules, record),
        "_content": base64.b64encode(body).decode("ascii"),
    }
    if rules.name in ("Invoices", "CreditNotes"):
        attachment["IncludeOnline"] = query_flag(query, "IncludeOnline", False)
    org = ctx.org
    with org.lock, org.transaction():
        org.put(TABLE, attachment["AttachmentID"], attachment)
        if not record.get("HasAttachments"):
            updated = dict(record)
            updated["HasAttachments"] = True
            org.put(rules.name, record[rules.id_field], updated)
    shown = [_public(attachment, base_url, rules, record)]
    return service.Listing(TABLE, shown)
