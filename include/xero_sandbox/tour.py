"""``make demo`` (until the example DAGs land): a guided tour of the sandbox over real HTTP.

Starts the sandbox with the demo data, authorises the demo web app through the consent
page exactly as a browser would, lists the organisations, creates and reads a contact
and an invoice, rotates the refresh token, and stops the sandbox. Tokens are never
printed: only their lengths and IDs.
"""

from __future__ import annotations

import sys

import httpx

from xero_sandbox.testing import SandboxServer, authorization_code_tokens

SCOPES = "openid profile email offline_access accounting.contacts accounting.transactions"


def say(step: str, detail: str = "") -> None:
    print(f"  {step:<46} {detail}")


def authorise(server: SandboxServer) -> dict:
    """The authorization-code flow through the consent page, as a browser would do it."""
    demo = server.demo
    tokens = authorization_code_tokens(
        server.url, demo.web_client_id, demo.web_client_secret, demo.redirect_uri, SCOPES
    )
    say("consent approved, code exchanged", f"expires_in={tokens['expires_in']}s")
    say("granted scopes", tokens["scope"])
    return tokens


def main() -> int:
    print("Xero sandbox tour")
    with SandboxServer(seed_demo=True) as server:
        say("sandbox listening on", server.url)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            tokens = authorise(server)
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            connections = client.get("/connections", headers=auth).json()
            for connection in connections:
                say(
                    "connected organisation",
                    f"{connection['tenantName']} ({connection['tenantId']})",
                )
            tenant = connections[0]["tenantId"]
            api = {**auth, "xero-tenant-id": tenant, "Accept": "application/json"}

            contact = client.put(
                "/api.xro/2.0/Contacts",
                headers=api,
                json={
                    "Contacts": [
                        {"Name": "Tour Traders Ltd", "EmailAddress": "ap@tour.example.com"}
                    ]
                },
            ).json()["Contacts"][0]
            say("created contact", f"{contact['Name']} {contact['ContactID']}")
            fetched = client.get(f"/api.xro/2.0/Contacts/{contact['ContactID']}", headers=api)
            status = fetched.json()["Contacts"][0]["ContactStatus"]
            say("read it back", f"HTTP {fetched.status_code}, status {status}")

            invoice = client.put(
                "/api.xro/2.0/Invoices",
                headers=api,
                json={
                    "Invoices": [
                        {
                            "Type": "ACCREC",
                            "Contact": {"ContactID": contact["ContactID"]},
                            "Status": "AUTHORISED",
                            "LineItems": [
                                {
                                    "Description": "Consulting",
                                    "Quantity": 3,
                                    "UnitAmount": 180,
                                    "AccountCode": "200",
                                    "TaxType": "OUTPUT2",
                                }
                            ],
                        }
                    ]
                },
            )
            invoice.raise_for_status()
            created = invoice.json()["Invoices"][0]
            say(
                "created invoice",
                f"{created['InvoiceNumber']} total {created['Total']:.2f} ({created['Status']})",
            )
            again = client.get(
                f"/api.xro/2.0/Invoices/{created['InvoiceNumber']}", headers=api
            ).json()
            say("read it back by number", f"amount due {again['Invoices'][0]['AmountDue']:.2f}")

            bad = client.put("/api.xro/2.0/Invoices", headers=api, json={"Type": "ACCREC"})
            message = bad.json()["Elements"][0]["ValidationErrors"][0]["Message"]
            say("an invalid invoice is refused", f"HTTP {bad.status_code}: {message}")

            rotated = client.post(
                "/connect/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                auth=(server.demo.web_client_id, server.demo.web_client_secret),
            ).json()
            changed = rotated["refresh_token"] != tokens["refresh_token"]
            say("refresh token rotated", f"new refresh token issued: {changed}")
            stats = server.control("GET", "/identity/stats").json()
            say("identity stats", ", ".join(f"{k}={v}" for k, v in stats.items() if v))
            calls = len(server.requests())
            say("requests in the sandbox log", str(calls))
    print("Tour complete; the sandbox has stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
