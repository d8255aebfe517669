"""Ask the dag-processor to parse the DAG files again now, when the organisations change.

The example DAG files build one set of DAGs per ``xero`` connection from the organisation
directory (``airflow_connections.DIRECTORY_VARIABLE``). Their text does not change when an
organisation is connected, so the dag-processor would pick the new organisation up only at
its next periodic parse (``[dag_processor] min_file_process_interval``, 30 s by default,
often minutes in large deployments). Airflow 3 keeps a queue of priority parsing requests
(the table behind ``PUT /api/v2/parseDagFile/{file_token}``) that the dag-processor reads
on every loop; a file whose DAGs do not exist yet has no file token, so the request is
written directly, in the transaction that changes the directory.

One limit is Airflow's: a request that arrives while the dag-processor is still parsing
that file is dropped (Airflow 3.3, ``DagFileProcessorManager._start_new_processes``), so
two directory changes within one parse leave the second to the periodic parse.

Only local bundles are asked (the default ``dags-folder`` and any other ``LocalDagBundle``):
their files are on this machine's disk. Other bundles (git, S3) keep the periodic parse.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
MAX_FILES = 2_000  # a request per file; past this, the periodic parse does the rest


def local_bundles() -> dict[str, Path]:
    """``{bundle name: folder}`` of the configured local DAG bundles."""
    from airflow.configuration import conf

    try:
        bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list"))
    except (ValueError, TypeError):
        return {}
    found = {}
    for bundle in bundles if isinstance(bundles, list) else []:
        if not isinstance(bundle, dict) or bundle.get("classpath") != LOCAL_BUNDLE:
            continue
        kwargs = bundle.get("kwargs") or {}
        folder = kwargs.get("path") or conf.get("core", "dags_folder")
        if bundle.get("name") and folder:
            found[str(bundle["name"])] = Path(folder).expanduser()
    return found


def python_files(folder: Path) -> list[str]:
    """The ``.py`` files under ``folder``, relative to it, as the bundle names them."""
    if not folder.is_dir():
        return []
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*.py")
        if not any(part.startswith((".", "__")) for part in path.relative_to(folder).parts)
    )


def request_reparse(session: Any) -> int:
    """Queue a priority parse of every DAG file of the local bundles, in ``session``.

    Returns how many requests were queued. A file already waiting for one is skipped (the
    request's id is the file's). Each request is written in its own savepoint, and nothing
    here fails the caller: the periodic parse still comes, so a request that cannot be
    written (one queued at the same moment by someone else, say) is only logged.
    """
    import sqlalchemy as sa
    from airflow.models.dagbag import DagPriorityParsingRequest

    queued = 0
    for bundle, folder in local_bundles().items():
        for relative in python_files(folder)[:MAX_FILES]:
            try:
                with session.begin_nested():
                    waiting = session.scalar(
                        sa.select(sa.func.count()).where(
                            DagPriorityParsingRequest.bundle_name == bundle,
                            DagPriorityParsingRequest.relative_fileloc == relative,
                        )
                    )
                    if not waiting:
                        session.add(DagPriorityParsingRequest(bundle, relative))
                        session.flush()
                        queued += 1
            except sa.exc.SQLAlchemyError as error:
                log.warning("no priority parse of %s/%s: %s", bundle, relative, error)
    if queued:
        log.info("asked the dag-processor to parse %d DAG files again", queued)
    return queued
