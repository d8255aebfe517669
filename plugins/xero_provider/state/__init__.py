"""Everything the provider keeps in its own database, below every other layer.

One SQLAlchemy database per ``token_store`` (SQLite under ``AIRFLOW_HOME`` by default,
PostgreSQL in production) holds the OAuth tokens (:mod:`.token_store`), the write ledger
(:mod:`.write_ledger`), the shared rate budget (:mod:`.rate_budget`), call slots
(:mod:`.call_slots`), feed positions (:mod:`.watermarks`, with the position and feed
types of :mod:`.feed`), batch claims (:mod:`.batch_claims`) and the connect app's
sign-ins and webhook sequences (:mod:`.connect_state`). Nothing here imports hooks,
triggers, sensors, operators, ``auth`` or ``connect`` (``tests/provider/test_layers.py``).
"""
