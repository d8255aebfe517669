"""Provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow (name, versions; hooks and connection types follow)."""
    return {
        "package-name": "airflow-provider-xero",
        "name": "Xero",
        "description": "Read from and write to Xero, the cloud accounting system.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Xero",
                "external-doc-url": "https://developer.xero.com/documentation/api/accounting/overview",
                "tags": ["service"],
            }
        ],
    }
