# Airflow 3.3 with this project's pinned dependencies; docker-compose.yaml builds it once
# for every Airflow service and the sandbox. dags/, plugins/ and include/ are mounted.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt constraints.txt pyproject.toml README.md /opt/project/
COPY --chown=airflow:0 plugins/xero_provider /opt/project/plugins/xero_provider
COPY --chown=airflow:0 include /opt/project/include
RUN pip install --no-cache-dir -r /opt/project/requirements.txt -c /opt/project/constraints.txt \
 && pip install --no-cache-dir --no-deps /opt/project
