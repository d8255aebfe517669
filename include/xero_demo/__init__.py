"""Run the example DAGs in a real Airflow: the stack runner, the settings loader, the demo."""
