"""The consent page a user sees at ``/identity/connect/authorize``, as plain HTML.

Real enough to click through in a demo and to drive from a test: it names the app, lists
what it asks for and the organisations to connect, and posts back only an opaque request
id (the validated parameters stay on the server, so the form cannot be tampered with).
Every value is escaped: app names, scopes and organisation names are user-supplied.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from xero_sandbox.organisation import Organisation

FORM_ACTION = "/identity/connect/authorize"

SCOPE_TEXT = {
    "openid": "Know who you are",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Keep access while you are away (refresh tokens)",
    "accounting.transactions": "View and manage your business transactions",
    "accounting.transactions.read": "View your business transactions",
    "accounting.contacts": "View and manage your contacts",
    "accounting.contacts.read": "View your contacts",
    "accounting.settings": "View and manage your organisation settings",
    "accounting.settings.read": "View your organisation settings",
    "accounting.attachments": "View and manage your attachments",
    "accounting.attachments.read": "View your attachments",
    "accounting.invoices": "View and manage your invoices, quotes and purchase orders",
    "accounting.invoices.read": "View your invoices, quotes and purchase orders",
    "accounting.payments": "View and manage your payments",
    "accounting.payments.read": "View your payments",
    "accounting.banktransactions": "View and manage your bank transactions and transfers",
    "accounting.banktransactions.read": "View your bank transactions and transfers",
    "accounting.manualjournals": "View and manage your manual journals",
    "accounting.manualjournals.read": "View your manual journals",
    "accounting.reports.read": "View your reports",
    "accounting.journals.read": "View your general ledger",
}

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;color:#1e3240}
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:8px;padding:2rem;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.4rem}.scopes li{margin:.2rem 0}.scopes code{color:#5c6b77;font-size:.8rem}
fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0}
.error{background:#fde8e8;color:#8a1c1c;padding:.6rem;border-radius:6px}
.buttons{display:flex;gap:1rem;justify-content:flex-end}
button{font-size:1rem;padding:.5rem 1.2rem;border-radius:6px;border:1px solid #13b5ea}
button[value=approve]{background:#13b5ea;color:#fff}button[value=deny]{background:#fff}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def render_consent(
    *,
    request_id: str,
    app_name: str,
    scopes: Iterable[str],
    organisations: Iterable[Organisation],
    show_organisations: bool = True,
    error: str | None = None,
    chosen: Iterable[str] = (),
) -> str:
    """The consent page for one parked authorize request.

    :param show_organisations: False for identity-only scopes, which connect no organisation.
    :param chosen: tenant ids to keep ticked when the page is shown again after an error.
    """
    ticked = {t.lower() for t in chosen}
    parts = [f"<h1>{escape(app_name)} wants access to your Xero account</h1>"]
    if error:
        parts.append(f'<p class="error" role="alert">{escape(error)}</p>')
    parts.append('<ul class="scopes">')
    for scope in scopes:
        text = SCOPE_TEXT.get(scope, scope)
        parts.append(f"<li>{escape(text)} <code>{escape(scope)}</code></li>")
    parts.append("</ul>")
    parts.append(f'<form method="post" action="{FORM_ACTION}">')
    parts.append(f'<input type="hidden" name="request_id" value="{escape(request_id)}">')
    if show_organisations:
        orgs = list(organisations)
        parts.append("<fieldset><legend>Organisations to connect</legend>")
        if not orgs:
            parts.append("<p>You have no organisations to connect.</p>")
        for org in orgs:
            tenant = escape(org.tenant_id)
            checked = " checked" if org.tenant_id in ticked else ""
            parts.append(
                f'<label><input type="checkbox" name="tenant_id" value="{tenant}"{checked}> '
                f"{escape(org.name)}</label><br>"
            )
        parts.append("</fieldset>")
    parts.append(
        '<div class="buttons">'
        '<button type="submit" name="decision" value="deny">Cancel</button>'
        '<button type="submit" name="decision" value="approve">Allow access</button>'
        "</div></form>"
    )
    return _page(f"Connect {app_name} to Xero", "".join(parts))


def render_error(message: str, error: str = "invalid_request") -> str:
    """The page shown instead of redirecting, when the client or redirect URI is not trusted."""
    body = (
        "<h1>Sorry, something went wrong</h1>"
        f'<p class="error" role="alert">{escape(message)}</p>'
        f"<p>Error code: <code>{escape(error)}</code></p>"
    )
    return _page("Xero | Error", body)
