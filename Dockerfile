# Airflow 3.3 with this project's pinned dependencies; docker-compose.yaml builds it once
# for every Airflow service and the sandbox. dags/, plugins/ and include/ are mounted.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt constraints.txt pyproject.toml README.md /opt/project/
COPY --chown=airflow:0 plugins/xero_provider /opt/project/plugins/xero_provider
COPY --chown=airflow:0 include /opt/project/include
# the runtime pins only: requirements.txt up to its "tests and tooling" line (pytest,
# selenium, ruff and hypothesis stay out of the image)
RUN sed '/^# --- tests and tooling/,$d' /opt/project/requirements.txt > /tmp/runtime.txt \
 && pip install --no-cache-dir -r /tmp/runtime.txt -c /opt/project/constraints.txt \
 && pip install --no-cache-dir --no-deps /opt/project && rm /tmp/runtime.txt
