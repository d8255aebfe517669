"""HTML of the connect app: plain server-rendered pages, every value escaped.

No token or secret is ever passed to these functions; the client secret field is
write-only (``type=password``, never filled in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from xero_provider.connect.airflow_connections import StoredConnection
from xero_provider.connect.grants import GrantTimes
from xero_provider.connect.settings import URL_PREFIX
from xero_provider.tiers import ORDER as TIER_ORDER

# Airflow 3's look (its UI is Chakra: a system font stack, grey-bordered cards with rounded
# corners, a blue primary button, a red one for what cannot be undone), light and dark.
# The page opens in its own tab, not in Airflow's plugin frame (``url_route``): Airflow 3.3
# frames plugin pages with sandbox="allow-scripts allow-same-origin allow-forms
# allow-downloads" (its UI bundle), so a framed page can neither navigate the window nor
# open one, and the sign-in at Xero could only happen inside the frame, which sign-in
# pages refuse (clickjacking protection).
STYLE = """
:root{color-scheme:light dark;--fg:#1a202c;--muted:#4a5568;--bg:#fff;--card:#fff;
--line:#e2e8f0;--code:#edf2f7;--brand:#0f62c9;--brand-fg:#fff;--danger:#c53030;
--ok-bg:#e6fffa;--ok-fg:#22543d;--err-bg:#fff5f5;--err-fg:#9b2c2c;--warn:#975a16}
@media (prefers-color-scheme:dark){:root{--fg:#e2e8f0;--muted:#a0aec0;--bg:#1a202c;
--card:#2d3748;--line:#4a5568;--code:#4a5568;--brand:#63b3ed;--brand-fg:#1a202c;
--danger:#fc8181;--ok-bg:#22543d;--ok-fg:#c6f6d5;--err-bg:#63171b;--err-fg:#fed7d7;
--warn:#f6e05e}}
body{font-family:Inter,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
padding:1.5rem 2rem;max-width:72rem;color:var(--fg);background:var(--bg);font-size:14px;
line-height:1.5}
h1{font-size:1.5rem;font-weight:600;margin:0 0 .25rem}h2{font-size:1.1rem;font-weight:600;
margin-top:2rem}h3{font-size:1rem;font-weight:600}p{color:var(--muted)}
table{border-collapse:collapse;margin:.5rem 0;width:100%}td,th{border-bottom:1px solid
var(--line);padding:.45rem .6rem;text-align:left}th{font-weight:600;color:var(--muted)}
.grant,form.card{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:.25rem 1rem 1rem;margin:1rem 0}.msg{background:var(--ok-bg);color:var(--ok-fg);
padding:.6rem .8rem;border-radius:6px}.err{background:var(--err-bg);color:var(--err-fg);
padding:.6rem .8rem;border-radius:6px}label{display:block;margin:.5rem 0;font-weight:500}
input,select{display:block;min-width:24rem;padding:.35rem .5rem;border:1px solid var(--line);
border-radius:6px;background:var(--bg);color:var(--fg);margin-top:.2rem}
button{margin:.3rem .3rem .3rem 0;padding:.35rem .9rem;border-radius:6px;border:1px solid
var(--brand);background:var(--brand);color:var(--brand-fg);font-weight:500;cursor:pointer}
button.secondary{background:transparent;color:var(--brand)}button.danger,button.revoke{
border-color:var(--danger);background:var(--danger);color:#fff}a{color:var(--brand)}
.warn{color:var(--warn)}code{background:var(--code);padding:0 .25rem;border-radius:4px}
td form{display:inline}nav{color:var(--muted);margin-bottom:1rem}
"""


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def confirm_page(
    title: str, text: str, action: str, csrf: str, fields: dict[str, str], button: str, back: str
) -> str:
    """Ask before something that cannot be undone: the same form again, with ``confirmed``."""
    hidden = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )
    return _page(
        title,
        f"<h1>{escape(title)}</h1><p class='warn' id='confirm-text'>{escape(text)}</p>"
        f"<form method='post' action='{escape(action)}' id='confirm'>{_hidden(csrf)}{hidden}"
        "<input type='hidden' name='confirmed' value='yes'>"
        f"<button type='submit' class='danger'>{escape(button)}</button>"
        f"<a href='{escape(back)}/'>Cancel</a></form>",
    )


def message_page(title: str, text: str, link: tuple[str, str] | None = None) -> str:
    more = f"<p><a href='{escape(link[0])}'>{escape(link[1])}</a></p>" if link else ""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{more}")


@dataclass
class GrantView:
    """One grant on the page: its connections and its tokens' times (None: no tokens)."""

    key: str
    connections: list[StoredConnection]
    times: GrantTimes | None
    problem: str | None = None
    client_id: str = ""
    egress: dict[str, str] = field(default_factory=dict)  # conn id -> today / this month
    plans: dict[str, list[str]] = field(default_factory=dict)  # conn id -> call plan lines


@dataclass
class PageModel:
    """Everything the main page shows (no token, no secret)."""

    user: str
    csrf: str
    redirect_uri: str
    webhook_url: str
    webhook_ready: bool
    grants: list[GrantView] = field(default_factory=list)
    connections: list[StoredConnection] = field(default_factory=list)
    message: str | None = None
    errors: list[str] = field(default_factory=list)
    can_edit: bool = True
    base: str = "/xero"


def _hidden(csrf: str) -> str:
    return f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"


def _grant(view: GrantView, model: PageModel) -> str:
    names = ", ".join(escape(c.tenant_name or c.tenant_id or c.conn_id) for c in view.connections)
    if view.times is not None:
        t = view.times
        refresh = (
            f"; refresh token expires {_when(t.refresh_expires_at)} if unused"
            if t.refresh_expires_at
            else ""
        )
        times = (
            f"<p>Access token expires {_when(t.access_expires_at)}; last refresh "
            f"{_when(t.last_refresh)}{refresh}.</p>"
        )
    else:
        times = (
            "<p class='warn'>No tokens stored: these connections cannot make calls until "
            "connected again.</p>"
        )
    if view.problem:
        times += f"<p class='err'>{escape(view.problem)}</p>"
    rows = []
    for conn in view.connections:
        button = ""
        if model.can_edit:
            base = f"{model.base}/connections/{escape(conn.conn_id)}"
            button = (
                f"<form method='post' action='{base}/test'>{_hidden(model.csrf)}"
                f"<button type='submit' class='secondary' data-test='{escape(conn.conn_id)}'>"
                "Test</button></form>"
                f"<form method='post' action='{base}/disconnect'>"
                f"{_hidden(model.csrf)}<button type='submit' class='danger' "
                f"data-conn='{escape(conn.conn_id)}'>Disconnect this organisation</button></form>"
            )
        rows.append(
            f"<tr><td>{escape(conn.tenant_name or '-')}</td><td><code>{escape(conn.conn_id)}"
            f"</code></td><td>{escape(conn.tenant_id or '-')}</td>"
            f"<td class='egress'>{escape(view.egress.get(conn.conn_id, '-'))}</td>"
            f"<td>{button}</td></tr>"
        )
    revoke = ""
    if model.can_edit and view.times is not None:
        revoke = (
            f"<form method='post' action='{model.base}/grants/revoke'>{_hidden(model.csrf)}"
            f"<input type='hidden' name='conn_id' value='{escape(view.connections[0].conn_id)}'>"
            f"<p class='warn'>Revoking this authorisation also ends it for every organisation "
            f"above ({names}); Xero also removes every organisation this Xero user connected "
            "to the app. To stop one organisation only, disconnect it instead.</p>"
            "<button type='submit' class='revoke'>Revoke the authorisation</button></form>"
        )
    for conn_id, lines in view.plans.items():
        short = any("RUNS SHORT" in line for line in lines)
        revoke = (
            f"<h4>Daily call plan: <code>{escape(conn_id)}</code></h4>"
            + ("<p class='warn'>The day runs short: polling is slowed.</p>" if short else "")
            + f"<pre class='call-plan' data-conn='{escape(conn_id)}'>"
            + escape("\n".join(lines))
            + "</pre>"
            + revoke
        )
    return (
        f"<div class='grant'><h3>Authorisation <code>{escape(view.key)}</code> "
        f"(client {escape(view.client_id)})</h3>{times}"
        "<table><tr><th>Organisation</th><th>Connection</th><th>Tenant ID</th>"
        "<th>Egress (UTC)</th><th></th></tr>" + "".join(rows) + f"</table>{revoke}</div>"
    )


def _connect_form(model: PageModel) -> str:
    options = "".join(
        f"<option value='{escape(c.conn_id)}'>{escape(c.conn_id)}"
        f"{' (' + escape(c.tenant_name) + ')' if c.tenant_name else ''}</option>"
        for c in model.connections
    )
    existing = ""
    if options:
        existing = (
            f"<form method='post' action='{model.base}/start' id='start-existing'>"
            f"{_hidden(model.csrf)}<label>Start from an existing connection "
            f"<select name='from_conn_id'>{options}</select></label>"
            "<button type='submit'>Connect organisations with its app</button></form>"
            "<p>or with a Xero app's credentials:</p>"
        )
    return (
        "<h2>Connect organisations</h2>"
        f"<p>You will sign in to Xero and choose organisations; each one becomes a "
        f"<code>xero</code> connection. The app must have this redirect URI registered: "
        f"<code id='redirect-uri'>{escape(model.redirect_uri)}</code></p>"
        + existing
        + f"<form method='post' action='{model.base}/start' id='start-new' class='card'>"
        f"{_hidden(model.csrf)}"
        "<label>Client ID <input name='client_id' autocomplete='off' required></label>"
        "<label>Client secret (empty for a PKCE app) <input name='client_secret' "
        "type='password' autocomplete='new-password'></label>"
        "<label>Xero base URL (leave empty for Xero; the sandbox's URL in tests) "
        "<input name='base_url' placeholder='https://api.xero.com'></label>"
        "<label>Scopes (empty: exactly what this deployment's operators, sensors and "
        "warehouse reads need) <input name='scopes'></label>"
        "<label><input type='checkbox' name='broad_scopes' value='1'> The app was created "
        "before 2 March 2026 (ask for broad scopes)</label>"
        "<label>Connection id prefix <input name='conn_id_prefix' value='xero'></label>"
        + _tier_select()
        + "<button type='submit'>Sign in to Xero</button></form>"
    )


def _tier_select() -> str:
    """The app's Xero tier (developer.xero.com/pricing): recorded on each connection."""
    options = "".join(f"<option value='{t}'>{t.title()}</option>" for t in TIER_ORDER)
    return (
        "<label>App tier (since March 2026; sets limits and gated endpoints) "
        f"<select name='app_tier'><option value=''>not set</option>{options}</select></label>"
    )


def main_page(model: PageModel) -> str:
    airflow = escape(model.base.removesuffix(URL_PREFIX) + "/")
    parts = [
        f"<nav id='airflow-links'><a href='{airflow}'>Airflow</a> / Admin / "
        f"<a href='{airflow}connections'>Connections</a> / Xero connections</nav>"
        f"<h1>Xero connections</h1><p>Signed in to Airflow as {escape(model.user)}.</p>"
    ]
    if model.message:
        parts.append(f"<p class='msg' id='message'>{escape(model.message)}</p>")
    if model.errors:
        items = "".join(f"<li>{escape(e)}</li>" for e in model.errors)
        parts.append(f"<div class='err' id='errors'><ul>{items}</ul></div>")
    parts.append("<h2>Connected organisations</h2>")
    if model.grants:
        parts.extend(_grant(view, model) for view in model.grants)
    else:
        parts.append("<p>No Xero connections yet.</p>")
    if model.can_edit:
        parts.append(_connect_form(model))
    ready = (
        "configured" if model.webhook_ready else "not configured (set [xero_connect] webhook_key)"
    )
    parts.append(
        f"<h2>Webhooks</h2><p>Delivery URL for your Xero app: <code>{escape(model.webhook_url)}"
        f"</code>; signing key {ready}.</p>"
    )
    return _page("Xero connections", "".join(parts))
