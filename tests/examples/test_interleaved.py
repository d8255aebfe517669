"""The sync DAGs' steps are weighted to interleave organisations (``interleaved``): the
example warehouse DAG and the organisations benchmark's DAG alike, as Airflow stores them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.benchmarks.orgs import DAG_FILE, RESOURCES
from xero_examples.dag_support import interleaved

REPO = Path(__file__).resolve().parents[2]


def load(path: Path, orgs: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("XERO_ORGANISATIONS_FILE", str(orgs))
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def orgs(tmp_path: Path) -> Path:
    path = tmp_path / "orgs.json"
    entries = [{"key": k, "conn_id": f"xero_{k}", "tenant_id": f"t-{k}"} for k in ("a", "b")]
    path.write_text(json.dumps(entries))
    return path


def weights(dag) -> list[tuple[str, int, str]]:
    """(task id, priority weight, rule) of each task after Airflow's serialisation."""
    from airflow.serialization.serialized_objects import DagSerialization

    stored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    return [
        (t.task_id, t.priority_weight, type(t.weight_rule).__name__)
        for t in sorted(stored.tasks, key=lambda t: -t.priority_weight)
    ]


ABSOLUTE = "_AbsolutePriorityWeightStrategy"


def test_weights_fall_along_the_steps_from_airflows_default() -> None:
    assert interleaved(0) == {"priority_weight": 1, "weight_rule": "absolute"}
    assert [interleaved(s)["priority_weight"] for s in range(3)] == [1, 0, -1]
    with pytest.raises(ValueError, match="step must be 0 or more"):
        interleaved(-1)


def test_warehouse_dag_reads_every_organisations_resource_n_before_anyones_n_plus_one(
    orgs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load(REPO / "dags" / "xero_warehouse_sync.py", orgs, monkeypatch)
    a, b = weights(module.xero_warehouse_sync_a), weights(module.xero_warehouse_sync_b)
    assert [w for _, w, _ in a] == [w for _, w, _ in b]  # the same step, the same weight
    assert {rule for _, _, rule in a} == {ABSOLUTE}
    ids = [t for t, _, _ in a]
    assert ids[0] == "create_tables" and ids[-1] == "quality_check"
    assert ids[1:3] == ["sync_contacts", "sync_invoices"]  # the resource table's order
    assert [w for _, w, _ in a] == list(range(1, 1 - len(a), -1))  # one step, one less


def test_benchmark_dag_uses_the_same_weights(
    orgs: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "xero_orgs_bench.py"
    path.write_text(DAG_FILE % {"resources": RESOURCES})
    module = load(path, orgs, monkeypatch)
    got = weights(module.xero_orgs_bench_a)
    assert got == [
        (f"sync_{name.lower()}", interleaved(step)["priority_weight"], ABSOLUTE)
        for step, name in enumerate(RESOURCES)
    ]


def test_benchmark_baseline_gives_every_step_one_weight(
    orgs: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XERO_BENCH_INTERLEAVE", "0")  # --fifo: what interleaving is against
    path = tmp_path / "xero_orgs_bench_fifo.py"
    path.write_text(DAG_FILE % {"resources": RESOURCES})
    got = weights(load(path, orgs, monkeypatch).xero_orgs_bench_b)
    assert {w for _, w, _ in got} == {1} and len(got) == len(RESOURCES)
