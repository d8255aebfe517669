"""Attachments: upload, list and download bytes, over HTTP and through xero-python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import authorised_client
from tests.sandbox.test_xero_python_sdk import _accounting, sdk  # noqa: F401

PDF = b"%PDF-1.4\n% a tiny receipt\n%%EOF\n"


def _invoice(xero_client: httpx.Client) -> dict[str, Any]:
    return xero_client.get("/Invoices", params={"page": 1}).json()["Invoices"][0]


def test_upload_list_and_download(xero_client: httpx.Client) -> None:
    invoice = _invoice(xero_client)
    base = f"/Invoices/{invoice['InvoiceID']}/Attachments"
    uploaded = xero_client.put(
        f"{base}/receipt.pdf",
        content=PDF,
        headers={"Content-Type": "application/octet-stream"},
        params={"IncludeOnline": "true"},
    )
    assert uploaded.status_code == 200, uploaded.text
    attachment = uploaded.json()["Attachments"][0]
    assert attachment["FileName"] == "receipt.pdf"
    assert attachment["MimeType"] == "application/pdf"  # guessed from the name
    assert attachment["ContentLength"] == len(PDF) and attachment["IncludeOnline"] is True
    listed = xero_client.get(base).json()["Attachments"]
    assert [a["AttachmentID"] for a in listed] == [attachment["AttachmentID"]]
    for key in (attachment["AttachmentID"], "receipt.pdf", "RECEIPT.PDF"):
        download = xero_client.get(f"{base}/{key}")
        assert download.status_code == 200
        assert download.content == PDF
        assert download.headers["content-type"] == "application/pdf"
    refreshed = xero_client.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert refreshed["HasAttachments"] is True


def test_same_name_replaces_the_file(xero_client: httpx.Client) -> None:
    contact = xero_client.get("/Contacts").json()["Contacts"][0]
    base = f"/Contacts/{contact['ContactID']}/Attachments"
    first = xero_client.put(
        f"{base}/note.txt", content=b"one", headers={"Content-Type": "text/plain"}
    )
    second = xero_client.post(
        f"{base}/note.txt", content=b"two!", headers={"Content-Type": "text/plain"}
    )
    assert (
        first.json()["Attachments"][0]["AttachmentID"]
        == second.json()["Attachments"][0]["AttachmentID"]
    )
    assert xero_client.get(f"{base}/note.txt").content == b"two!"
    assert len(xero_client.get(base).json()["Attachments"]) == 1


def test_bad_uploads_are_refused(xero_client: httpx.Client) -> None:
    invoice = _invoice(xero_client)
    base = f"/Invoices/{invoice['InvoiceID']}/Attachments"
    empty = xero_client.put(
        f"{base}/empty.txt", content=b"", headers={"Content-Type": "text/plain"}
    )
    assert empty.status_code == 400 and "empty" in empty.text
    for i in range(10):
        ok = xero_client.put(
            f"{base}/f{i}.txt", content=b"x", headers={"Content-Type": "text/plain"}
        )
        assert ok.status_code == 200
    eleventh = xero_client.put(
        f"{base}/f10.txt", content=b"x", headers={"Content-Type": "text/plain"}
    )
    assert eleventh.status_code == 400 and "at most 10" in eleventh.text
    assert xero_client.get(f"{base}/missing.txt").status_code == 404
    unknown = "00000000-0000-0000-0000-0000000000aa"
    assert xero_client.get(f"/Invoices/{unknown}/Attachments").status_code == 404
    payment = xero_client.get("/Payments").json()["Payments"][0]
    assert xero_client.get(f"/Payments/{payment['PaymentID']}/Attachments").status_code == 404


def test_attachments_need_their_scope(sandbox: Any, xero_spec: Any) -> None:
    with authorised_client(sandbox, xero_spec, scopes=["accounting.contacts"]) as client:
        contact = client.get("/Contacts").json()["Contacts"][0]
        response = client.get(f"/Contacts/{contact['ContactID']}/Attachments")
        assert response.status_code == 401  # a missing scope: insufficient_scope


def test_xero_python_sdk_uploads_lists_and_downloads(
    sandbox: Any,
    sdk: Any,  # noqa: F811
    tmp_path: Any,
) -> None:
    client, _ = sdk
    api = _accounting(sandbox, client)
    tenant = sandbox.demo.tenant_id
    invoice = api.get_invoices(tenant, page=1).invoices[0]
    made = api.create_invoice_attachment_by_file_name(
        tenant, invoice.invoice_id, "scan.pdf", PDF, include_online=True
    )
    attachment_id = made.attachments[0].attachment_id
    listed = api.get_invoice_attachments(tenant, invoice.invoice_id).attachments
    assert [a.attachment_id for a in listed] == [attachment_id]
    path = api.get_invoice_attachment_by_id(
        tenant, invoice.invoice_id, attachment_id, "application/pdf"
    )
    assert Path(path).read_bytes() == PDF
