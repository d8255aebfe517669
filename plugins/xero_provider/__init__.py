"""airflow-provider-xero: Airflow 3 hooks, operators and sensors for the Xero Accounting API."""

from xero_provider.get_provider_info import get_provider_info

__version__ = "0.1.0"
__all__ = ["__version__", "get_provider_info"]
