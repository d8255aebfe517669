"""The chaos soak (issue 24): the example DAGs on Celery for a while, with a stream of
changes, injected Xero faults, killed Airflow components and a scripted approver; at the
end a verdict on whether Xero, the warehouse and the automations' effects agree.

``python -m xero_soak --minutes 60`` (``make soak``); ``tests/soak`` runs a short one.
"""
