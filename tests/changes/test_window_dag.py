"""Window polling through Airflow (``dag.test()``) against the sandbox: each named
sensor, deferrable and poke, rerun determinism, empty windows and missing intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.changes.helpers import create, read_output, sandbox_time, update
from xero_provider.hooks import XeroHook

DAG_SOURCE = """
import json
from datetime import datetime
from airflow.sdk import DAG, task, CronDataIntervalTimetable
from xero_provider.sensors import {sensor}

with DAG("DAG_ID", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1), catchup=False) as dag:
    changes = {sensor}(task_id="changes", xero_conn_id="{conn_id}", settle_seconds=1,
                       poke_interval=1, timeout=120, {kwargs})

    @task
    def name_of(record):
        return record.get("{id_field}")

    @task(trigger_rule="all_done")
    def collect(ids, names):
        with open("{out}", "w") as f:
            json.dump({{"ids": ids, "mapped": sorted(names or [])}}, f)

    collect(changes.output["ids"], name_of.expand(record=changes.output))
"""


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    """The final state of each task instance of a run, from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id).all()
        return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in rows}


def window_dag(make_dag, conn_id, out, sensor, id_field, **kwargs):
    extra = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    source = DAG_SOURCE.format(
        sensor=sensor, conn_id=conn_id, out=out, id_field=id_field, kwargs=extra
    )
    return make_dag(source)


@pytest.fixture
def window_start() -> datetime:
    """The start of an hourly window three hours ago (closed and settled)."""
    return (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


@pytest.mark.slow
@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
def test_window_delivers_exactly_the_window_and_reruns_the_same(
    sandbox, conn_id, make_dag, tmp_path, window_start, deferrable
) -> None:
    hook = XeroHook(conn_id)
    with sandbox_time(sandbox, window_start - timedelta(seconds=1)):
        (before,) = create(hook, "Contacts", [{"Name": "before window"}])
    with sandbox_time(sandbox, window_start):  # exactly at the start: inside
        at_start = create(hook, "Contacts", [{"Name": "at start 1"}, {"Name": "at start 2"}])
    with sandbox_time(sandbox, window_start + timedelta(minutes=30)):
        (middle,) = create(hook, "Contacts", [{"Name": "middle"}])
    with sandbox_time(sandbox, window_start + timedelta(hours=1)):  # the end is outside
        (at_end,) = create(hook, "Contacts", [{"Name": "at end"}])
    out = tmp_path / "out.json"
    dag = window_dag(
        make_dag,
        conn_id,
        out,
        "XeroNewOrUpdatedContactSensor",
        "ContactID",
        deferrable=deferrable,
    )
    # A manual run's interval is the last whole interval before its logical date.
    run = dag.test(logical_date=window_start + timedelta(hours=1))
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    first = read_output(out)
    assert sorted(first["ids"]) == sorted([*at_start, middle])
    assert first["mapped"] == sorted(first["ids"])
    assert before not in first["ids"] and at_end not in first["ids"]

    # Rerun: the same set, except a record changed again later (it left this window).
    update(hook, "Contacts", [{"ContactID": middle, "Name": "middle, renamed"}])
    out.unlink()
    dag.test(logical_date=window_start + timedelta(hours=1))
    assert sorted(read_output(out)["ids"]) == sorted(at_start)


@pytest.mark.slow
def test_empty_window_skips_or_succeeds(sandbox, conn_id, make_dag, tmp_path) -> None:
    start = datetime(2026, 1, 5, 5, tzinfo=UTC)  # ends a window where nothing changed
    out = tmp_path / "out.json"
    skip = window_dag(make_dag, conn_id, out, "XeroNewOrUpdatedBillSensor", "InvoiceID")
    run = skip.test(logical_date=start)
    assert task_states(skip.dag_id, run.run_id)["changes"] == "skipped"
    succeed = window_dag(
        make_dag, conn_id, out, "XeroNewOrUpdatedBillSensor", "InvoiceID", on_empty="succeed"
    )
    succeed.test(logical_date=start)
    assert read_output(out) == {"ids": [], "mapped": []}


ALL_SENSORS = {
    "XeroNewOrUpdatedContactSensor": ("Contacts", "Contacts", None),
    "XeroNewOrUpdatedBillSensor": ("Invoices", "Invoices", "ACCPAY"),
    "XeroNewOrUpdatedSalesInvoiceSensor": ("Invoices", "Invoices", "ACCREC"),
    "XeroNewOrUpdatedPaymentSensor": ("Payments", "Payments", None),
    "XeroNewOrUpdatedQuoteSensor": ("Quotes", "Quotes", None),
    "XeroNewOrUpdatedCreditNoteSensor": ("CreditNotes", "CreditNotes", None),
    "XeroNewOrUpdatedBankTransactionSensor": ("BankTransactions", "BankTransactions", None),
}

ALL_SOURCE = """
import json
from datetime import datetime
from airflow.sdk import DAG, task, CronDataIntervalTimetable
import xero_provider.sensors as sensors

with DAG("DAG_ID", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1), catchup=False) as dag:
    for name in {names!r}:
        sensor = getattr(sensors, name)(task_id=name, xero_conn_id="{conn_id}",
                                        settle_seconds=1, deferrable=True, on_empty="succeed")

        @task(task_id="save_" + name)
        def save(ids, name=name):
            with open("{out}/" + name + ".json", "w") as f:
                json.dump(ids, f)

        save(sensor.output["ids"])
"""


def _in_window(sandbox, resource: str, type_: str | None, start: datetime, end: datetime):
    from xero_provider.state.feed import parse_ms

    body = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/{resource}").json()
    id_field = {"Invoices": "InvoiceID"}.get(resource, resource[:-1] + "ID")
    low, high = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    return sorted(
        r[id_field]
        for r in body[resource]
        if low <= parse_ms(r["UpdatedDateUTC"]) < high and (type_ is None or r["Type"] == type_)
    )


@pytest.mark.slow
def test_each_named_sensor_delivers_its_own_resource(
    sandbox, conn_id, make_dag, tmp_path, window_start
) -> None:
    end = window_start + timedelta(hours=1)
    hook = XeroHook(conn_id)
    (supplier,) = create(hook, "Contacts", [{"Name": "Supplier for bills"}])
    bill = {
        "Contact": {"ContactID": supplier},
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "400"}],
    }
    for moment in (window_start - timedelta(minutes=1), window_start + timedelta(minutes=20), end):
        with sandbox_time(sandbox, moment, frozen=False):
            for resource in {r for r, _, _ in ALL_SENSORS.values()}:
                body = {"tenant_id": sandbox.demo.tenant_id, "resource": resource, "count": 4}
                sandbox.control("POST", "/generate", json=body)
            create(hook, "Bills", [bill, bill])
    dag = make_dag(ALL_SOURCE.format(names=sorted(ALL_SENSORS), conn_id=conn_id, out=tmp_path))
    dag.test(logical_date=end)
    for name, (resource, _, type_) in ALL_SENSORS.items():
        got = read_output(tmp_path / f"{name}.json")
        expected = _in_window(sandbox, resource, type_, window_start, end)
        assert expected, f"{name}: the test generated nothing in the window"
        assert sorted(got) == expected, name


def test_a_run_without_a_data_interval_is_a_clear_error(
    sandbox, conn_id, make_dag, tmp_path
) -> None:
    source = """
from datetime import datetime
from airflow.sdk import DAG
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

with DAG("DAG_ID", schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False) as dag:
    XeroNewOrUpdatedContactSensor(task_id="changes", xero_conn_id="{conn_id}")
"""
    dag = make_dag(source.format(conn_id=conn_id))
    run = dag.test(logical_date=datetime(2026, 2, 1, 10, tzinfo=UTC))
    assert task_states(dag.dag_id, run.run_id)["changes"] == "failed"
    assert not sandbox.requests(path="/api.xro/2.0/Contacts")  # no empty read was made


SHORT_WINDOW = 20  # seconds: a manual run's window is the 20 s before its logical date
SHORT_WINDOW_SOURCE = """
import json
from datetime import datetime, timedelta
from airflow.sdk import DAG, task, DeltaDataIntervalTimetable
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

with DAG("DAG_ID", schedule=DeltaDataIntervalTimetable(timedelta(seconds={window})),
         start_date=datetime(2026, 1, 1), catchup=False) as dag:
    changes = XeroNewOrUpdatedContactSensor(task_id="changes", xero_conn_id="{conn_id}",
                                            settle_seconds=2, deferrable=True)

    @task
    def save(ids):
        with open("{out}", "w") as f:
            json.dump(ids, f)

    save(changes.output["ids"])
"""


@pytest.mark.slow
def test_an_open_window_defers_until_closed_and_settled(
    sandbox, conn_id, make_dag, tmp_path, monkeypatch
) -> None:
    from xero_provider.triggers import XeroChangesTrigger

    fired = []
    original = XeroChangesTrigger.run

    async def spy(self):  # count trigger runs (dag.test runs them inline, in this process)
        async for event in original(self):
            fired.append(event.payload)
            yield event

    monkeypatch.setattr(XeroChangesTrigger, "run", spy)
    # the window closes 30 s from now: the records and the DAG are made first (on a busy
    # machine that took more than 5 s), and the run must start while it is still open
    boundary = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    hook = XeroHook(conn_id)
    out = tmp_path / "ids.json"
    dag = make_dag(SHORT_WINDOW_SOURCE.format(conn_id=conn_id, out=out, window=SHORT_WINDOW))
    with sandbox_time(sandbox, boundary - timedelta(seconds=SHORT_WINDOW / 2)):
        (inside,) = create(hook, "Contacts", [{"Name": "open window"}])
    with sandbox_time(sandbox, boundary + timedelta(seconds=1)):
        create(hook, "Contacts", [{"Name": "next window"}])
    dag.test(logical_date=boundary)  # its window: the 20 s before the boundary
    assert datetime.now(UTC) >= boundary + timedelta(seconds=2)  # closed plus settle
    start = boundary - timedelta(seconds=SHORT_WINDOW)
    expected = _in_window(sandbox, "Contacts", None, start, boundary)
    assert inside in expected and sorted(read_output(out)) == expected
    assert len(fired) == 1 and fired[0]["status"] == "success"  # it waited deferred
