"""Connecting Xero organisations to Airflow, and receiving Xero webhooks.

The same steps serve the Airflow UI plugin (``plugins/xero_connect.py``) and the CLI
(``python -m xero_provider.auth connect``): check the prerequisites before anyone is sent
to Xero (:mod:`.preflight`), run the code flow with ``state`` and PKCE (:mod:`.flow`),
store the grant's tokens and write one ``xero`` connection per organisation granted
(:mod:`.airflow_connections`). :mod:`.webhooks` turns signed Xero webhooks into Airflow
asset events.
"""
