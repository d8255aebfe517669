"""XeroChangesSensor and the seven named "new or updated" sensors.

Delivery semantics (both modes deliver each change once, with its current status)
==============================================================================

A *change* is a record version ``(UpdatedDateUTC, ID)``. Deleted and voided documents
are changes (their status changes and ``UpdatedDateUTC`` moves); lists include archived
contacts (``includeArchived=true``) and deleted bank transfers (``includeDeleted=true``),
so a contact that becomes ARCHIVED is delivered with ``ContactStatus`` ARCHIVED. A record
changed twice is delivered again (its newer version) in the range holding the newer time.

**window** (``polling="window"``, for scheduled DAGs). The run delivers the changes whose
``UpdatedDateUTC`` falls in ``[data_interval_start, data_interval_end)``, read once the
window has closed and ``settle_seconds`` more have passed (Xero commits and clocks differ
a little; until then the task waits, deferred). A rerun or backfill of the same run reads
the same range and returns the same set, except records changed again since: those left
this window and appear in the window of their newer change. An empty window skips the
downstream tasks (``on_empty="skip"``) or succeeds with ``[]`` (``on_empty="succeed"``).
Airflow 3's default timetable for a cron string gives runs no data interval (start ==
end); such a run, or a manual run without an interval, fails with a clear error: use
``CronDataIntervalTimetable`` / ``DeltaDataIntervalTimetable`` or the watermark mode.

**watermark** (``polling="watermark"``, for manual or continuous DAGs). The task waits
for the first changes after the feed's position and delivers up to ``max_records`` of
them. The position is ``(instant, IDs delivered at that instant)``, kept per DAG, task,
organisation and feed in the provider's store (table ``xero_change_watermarks`` in the
token store's database). It moves only when the run that received the changes succeeds:

* the run records a *pending* delivery ``(run, from, to)`` when it receives changes
  (and claims the feed with an empty one while it waits);
* the next run's first check asks Airflow for that run's state: ``success`` commits the
  pending position, ``failed`` or "no such run" (Airflow's 404) drops it (so this run
  receives the same changes again), anything else (the run is still going, or Airflow
  could not be asked, e.g. a timeout) makes this run wait;
* a retry or clear of the run that holds the pending delivery reads the same range again.

This "commit at the next start" keeps the rule inside the sensor (no listener plugin or
DAG callback to install, and it works under ``airflow dags test`` and real workers
alike: the run's state comes from the Execution API). Its cost: the last run's delivery is
committed only when a next run starts, and runs of one watermark task are serialised.

**Exactness** (both modes; details in :mod:`xero_provider.triggers.reading`): the read
range always ends at least ``settle_seconds`` in the past, so a record changed while pages
are read leaves the range instead of shifting it; pages are ordered by ``UpdatedDateUTC``
then ID, so ties across a page boundary keep their order; ``If-Modified-Since`` is sent
rounded down to the second, one second early, and the exact millisecond bounds are
applied per record;
multi-page reads are checked (``itemCount`` per page, or two agreeing passes) and read
again if Xero's records moved. Ties at a cut (``max_records``) are handled by keeping the
IDs already delivered at the cut's instant.

**BankTransfers** have no ``UpdatedDateUTC`` and no paging: they are watched by
``CreatedDateUTC`` in one unpaged request. A transfer never changes after it is created
except by deletion, and deletion does not move ``CreatedDateUTC``, so a deletion after the
transfer's own range is not seen as a change (a transfer created and deleted within one
range arrives with Status DELETED). Xero does not move ``UpdatedDateUTC`` for some derived
fields (contact ``Balances``, ``IsCustomer``/``IsSupplier``; invoice ``DueDate`` on
partly paid invoices, per Xero's contacts and invoices docs): those are not changes here.

**One read** (deferrable mode): the trigger hands the records it read to the task, in
its event when small, else staged in the provider's store
(:mod:`xero_provider.triggers.handover`); the task delivers exactly those and does not
call Xero again. So a record is delivered as Xero returned it when the trigger read it,
seconds before the task runs. The task reads the range from Xero itself only when the
stage is gone (a task resumed a day after its event) or the event came from a trigger
made before handover existed; a range is deterministic, so delivery stays exactly-once.

**Ending in the triggerer** (``end_from_trigger=True``, the default, deferrable mode):
when the batch is small (its JSON within 64 KiB, as for a batch carried in the event) the
trigger delivers it and ends the task itself (Airflow 3's ``TaskSuccessEvent`` /
``TaskSkippedEvent``), so no worker process starts after the event: same XComs (records
as ``return_value``, IDs under ``ids``, the list's length for ``expand``), same skip on an
empty window, and in watermark mode the same pending delivery, recorded by the trigger
before it delivers (a compare and set on the run's claim, so one copy of a trigger wins;
:mod:`xero_provider.triggers.task_end`). A larger batch, a sensor with ``outlets`` (asset
events come from a worker's success), ``do_xcom_push=False``, or any doubt (the claim is
gone, an XCom push fails) resumes the task on a worker as with ``end_from_trigger=False``.

Output: the changed records (a list of dicts) as the task's return value, and their IDs
under the XCom key ``ids``: ``process.expand(record=sensor.output)`` or
``process.expand(record_id=sensor.output["ids"])``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowRuntimeError,
    AirflowSkipException,
)

from xero_provider.formats import tenant_key
from xero_provider.resources import get_resource
from xero_provider.state.feed import Feed, Position, settled_upper
from xero_provider.triggers.changes import MODES, XeroChangesTrigger, batch_of
from xero_provider.triggers.handover import received
from xero_provider.triggers.reading import XeroChangesUnstable, planned_read, source_feed

log = logging.getLogger(__name__)


def is_template(value: Any) -> bool:
    """True for a Jinja template (or a list holding one): checked once rendered."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list | tuple):
        return any(is_template(v) for v in value)
    return False


def check_start_from(value: Any) -> None:
    """``start_from`` is ``now`` or an ISO timestamp with a timezone."""
    if value in (None, "", "now"):
        return
    try:
        Position.at(str(value))
    except ValueError:
        raise ValueError(
            f"start_from must be 'now' or an ISO timestamp with a timezone, got {value!r}"
        ) from None


EMPTY = ("skip", "succeed")
_NOT_READY = object()


class XeroChangesSensor(BaseSensorOperator):
    """Wait for, then return, the changed records of one Xero resource.

    .. code-block:: python

        changes = XeroChangesSensor(
            task_id="new_bills", resource="Bills", statuses=["AUTHORISED"], polling="window"
        )
        handle.expand(record=changes.output)

    :param resource: a resource table name (``Contacts``, ``Bills``, ``SalesInvoices``...).
    :param xero_conn_id: the ``xero`` connection (one per organisation).
    :param tenant_id: organisation override. (templated)
    :param polling: ``window`` (scheduled runs) or ``watermark`` (manual/continuous).
    :param where: Xero ``where`` filter sent to Xero. (templated)
    :param statuses: keep only records in these statuses. (templated)
    :param types: bank transaction, credit note or payment types to keep. (templated)
    :param contact_kind: contacts only: ``customer`` or ``supplier``.
    :param settle_seconds: how long after a window closes (or behind now) reading waits.
    :param on_empty: window mode: ``skip`` downstream or ``succeed`` with ``[]``.
    :param start_from: watermark mode, first run: ``now`` or an ISO timestamp. (templated)
    :param max_records: watermark mode: most changes one run receives.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param end_from_trigger: deferrable mode: let the trigger deliver a small batch and end
        the task itself, with no worker after the event (``False``: always resume on a
        worker). Not templated: it decides how the task defers.
    """

    template_fields: Sequence[str] = ("tenant_id", "where", "statuses", "types", "start_from")
    resource_name: str | None = None  # set by the named subclasses
    # False: the trigger's event names the range only and the task reads it again (the
    # behaviour before handover); the 500-sensor benchmark's baseline sets it
    hand_over_records: bool = True
    ui_color = "#13b5ea"

    def __init__(
        self,
        *,
        resource: str | None = None,
        xero_conn_id: str = "xero_default",
        tenant_id: str | None = None,
        polling: str = "window",
        where: str | None = None,
        statuses: Sequence[str] | str | None = None,
        types: Sequence[str] | str | None = None,
        contact_kind: str | None = None,
        settle_seconds: float = 30.0,
        on_empty: str = "skip",
        start_from: str = "now",
        max_records: int = 1000,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        end_from_trigger: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        resource = self._resource_of(resource)
        if polling not in MODES:
            raise ValueError(f"polling must be one of {MODES}, got {polling!r}")
        if on_empty not in EMPTY:
            raise ValueError(f"on_empty must be one of {EMPTY}, got {on_empty!r}")
        if not isinstance(settle_seconds, int | float) or not 1 <= settle_seconds <= 86400:
            raise ValueError(f"settle_seconds must be 1..86400, got {settle_seconds!r}")
        if not isinstance(max_records, int) or isinstance(max_records, bool) or max_records < 1:
            raise ValueError(f"max_records must be a positive integer, got {max_records!r}")
        if not isinstance(xero_conn_id, str) or not xero_conn_id.strip():
            raise ValueError(f"xero_conn_id must name a connection, got {xero_conn_id!r}")
        if not isinstance(deferrable, bool):
            raise ValueError(f"deferrable must be True or False, got {deferrable!r}")
        if not isinstance(end_from_trigger, bool):
            raise ValueError(f"end_from_trigger must be True or False, got {end_from_trigger!r}")
        if polling == "watermark" and self.poke_interval <= 0:
            # the poll tick is a multiple of the interval: 0 can never schedule a poll
            raise ValueError(
                f"poke_interval must be more than 0 seconds in watermark mode, "
                f"got {self.poke_interval!r}"
            )
        # Every filter that is not a template is checked now, at DAG parse; templated
        # ones are checked once rendered, at the first check, before any call to Xero.
        Feed.build(
            resource,
            where=None if is_template(where) else where,
            statuses=None if is_template(statuses) else statuses,
            types=None if is_template(types) else types,
            contact_kind=contact_kind,
        )
        if not is_template(start_from):
            check_start_from(start_from)
        self.resource = resource
        self.xero_conn_id = xero_conn_id
        self.tenant_id = tenant_id
        self.polling = polling
        self.where = where
        self.statuses = statuses
        self.types = types
        self.contact_kind = contact_kind
        self.settle_seconds = float(settle_seconds)
        self.on_empty = on_empty
        self.start_from = start_from
        self.max_records = max_records
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger

    def _resource_of(self, resource: str | None) -> str:
        """The watched resource: a named sensor watches only its own."""
        if resource is None or resource == "":
            resource = self.resource_name
        if not resource:
            raise ValueError("resource: name the Xero resource to watch, e.g. 'Contacts'")
        if not isinstance(resource, str):
            raise ValueError(f"resource must be a resource name, got {resource!r}")
        if self.resource_name and get_resource(resource).name != self.resource_name:
            raise ValueError(
                f"resource: {type(self).__name__} watches {self.resource_name}, got "
                f"{resource!r}; use XeroChangesSensor(resource={resource!r}) for that"
            )
        return get_resource(resource).name

    # --- pieces -----------------------------------------------------------------------

    def _feed(self) -> Feed:
        """The feed from the rendered filters; a bad one fails the task without retries."""
        try:
            feed = Feed.build(
                self.resource,
                where=self.where,
                statuses=self.statuses,
                types=self.types,
                contact_kind=self.contact_kind,
            )
            check_start_from(self.start_from)
        except (ValueError, TypeError) as error:
            raise AirflowFailException(f"{self.task_id}: {error}") from None
        return feed

    def _hook(self) -> Any:
        """The task's one hook, made on first use; :meth:`_task_scope` closes it."""
        hook = getattr(self, "_task_hook", None)
        if hook is None:
            from xero_provider.hooks import XeroHook

            hook = self._task_hook = XeroHook(self.xero_conn_id, tenant_id=self.tenant_id)
        return hook

    @contextmanager
    def _task_scope(self) -> Iterator[None]:
        """Around every entry point: when the outermost one ends (done, deferred,
        rescheduled or failed) the hook is closed, so the rate units and call slots it
        keeps go back at once instead of waiting for their leases to run out."""
        self._scopes = getattr(self, "_scopes", 0) + 1
        try:
            yield
        finally:
            self._scopes -= 1
            hook = getattr(self, "_task_hook", None)
            if self._scopes == 0 and hook is not None:
                self._task_hook = None
                try:
                    hook.close()
                except Exception as error:  # never hide the task's own outcome
                    log.warning("Closing the Xero hook failed: %s", error)

    def _window(self, context: Any) -> tuple[Position, Position]:
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None or end <= start:
            raise AirflowFailException(
                f"{self.task_id}: polling='window' needs a run with a data interval, got "
                f"[{start}, {end}). Airflow 3 gives cron-string schedules and manual runs "
                "no interval: use CronDataIntervalTimetable/DeltaDataIntervalTimetable, or "
                "polling='watermark'"
            )
        return Position.at(start), Position.at(end)

    def _store_and_key(self, hook: Any, context: Any, feed: Feed) -> tuple[Any, str]:
        from xero_provider.state.watermarks import WatermarkStore, watermark_key

        ti = context["ti"]
        task = (
            ti.task_id
            if getattr(ti, "map_index", -1) in (-1, None)
            else (f"{ti.task_id}[{ti.map_index}]")
        )
        config = hook.config  # loads the connection, and with it the tenant
        tenant = tenant_key(hook.tenant_id, config.client_id)
        return WatermarkStore.for_config(config), watermark_key(ti.dag_id, task, tenant, feed.key())

    def _start_position(self) -> Position:
        if self.start_from in (None, "", "now"):
            return settled_upper(datetime.now(UTC), timedelta(seconds=self.settle_seconds))
        return Position.at(str(self.start_from))

    def _read(self, hook: Any, feed: Feed, lower: Position, upper: Position) -> list[dict]:
        """The feed's records of ``(lower, upper]``, read as the triggers read them: from
        the feed's source (one ``Invoices`` read serves bills and sales invoices) and
        through the organisation's call plan, so a range another process (a trigger, or
        another sensor) found empty is not read again (``reading.planned_read``)."""
        from xero_provider.state.call_plan import plan_for

        plan = plan_for(hook.config, hook.tenant_id)  # hook.config first: it loads the tenant
        source = source_feed(feed) if plan else feed  # without a plan, as before it
        try:
            result = hook.drive(planned_read(plan, source, lower, upper))
        except XeroChangesUnstable as error:
            raise AirflowException(str(error)) from error  # a retry reads again
        if result.spared:
            log.info("%s to %s was found empty by another reader: no call", lower, upper)
        return feed.select(result.records, lower, upper)

    # --- one check ----------------------------------------------------------------------

    def _check(self, context: Any) -> Any:
        """Return the records when ready, else ``_NOT_READY`` with ``self._wait`` set."""
        feed = self._feed()
        hook = self._hook()
        if self.polling == "window":
            lower, upper = self._window(context)
            self._wait = {"lower": lower, "upper": upper, "feed": feed}
            ready_at = upper.ts / 1000 + self.settle_seconds
            if datetime.now(UTC).timestamp() < ready_at:
                return _NOT_READY
            return self._finish(context, self._read(hook, feed, lower, upper))
        store, key = self._store_and_key(hook, context, feed)
        run_id = context["dag_run"].run_id
        state = store.get(key)
        if state.pending is not None and state.pending.run_id != run_id:
            if not self._resolve_other_run(store, key, state.pending.run_id, context):
                self._wait = None
                return _NOT_READY
            state = store.get(key)
        pending = state.pending
        if pending is not None and pending.run_id == run_id and pending.upper != pending.lower:
            log.info(
                "Run %s received %s to %s before: reading it again",
                run_id,
                pending.lower,
                pending.upper,
            )
            return self._finish(context, self._read(hook, feed, pending.lower, pending.upper))
        lower = pending.lower if pending is not None else (state.committed or None)
        if lower is None:
            lower = self._start_position()
        store.set_pending(key, run_id, lower, lower)  # claim the feed while this run waits
        upper = settled_upper(datetime.now(UTC), timedelta(seconds=self.settle_seconds))
        self._wait = {"lower": lower, "upper": None, "feed": feed, "key": key}
        if upper.ts <= lower.ts:
            return _NOT_READY
        records = self._read(hook, feed, lower, upper)
        batch, after = batch_of(feed, records, lower, upper, self.max_records)
        if not batch:
            return _NOT_READY
        store.set_pending(key, run_id, lower, after)
        return self._finish(context, batch)

    def _resolve_other_run(self, store: Any, key: str, other: str, context: Any) -> bool:
        """Commit or drop another run's delivery by its final state; False while it runs,
        and while Airflow cannot say (a timeout is no verdict: dropping then would
        deliver that run's changes twice)."""
        try:
            state = context["ti"].get_dagrun_state(context["ti"].dag_id, other)
        except Exception as error:
            if not _run_not_found(error):
                log.warning("Cannot ask Airflow about run %s (%s); waiting", other, error)
                return False
            log.warning("Airflow has no run %s holding the feed; dropping its delivery", other)
            state = "failed"  # the run is gone: its delivery never counted
        state = str(getattr(state, "value", state)).lower()
        if state == "success":
            store.resolve_pending(key, other, succeeded=True)
            log.info("Run %s succeeded: its changes are committed", other)
            return True
        if state == "failed":
            store.resolve_pending(key, other, succeeded=False)
            log.info("Run %s failed: its changes will be delivered again", other)
            return True
        log.info("Run %s still holds this feed (state %s); waiting", other, state)
        return False

    def _finish(self, context: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [r.get(self._feed().spec.id_field) for r in records]
        context["ti"].xcom_push(key="ids", value=ids)
        log.info("%d change(s) of %s", len(records), self.resource)
        if not records and self.polling == "window" and self.on_empty == "skip":
            raise AirflowSkipException(f"no {self.resource} changed in this window")
        return records

    # --- Airflow entry points -----------------------------------------------------------------

    def poke(self, context: Any) -> PokeReturnValue:
        with self._task_scope():
            result = self._check(context)
        if result is _NOT_READY:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=result)

    def execute(self, context: Any) -> Any:
        with self._task_scope():  # the pokes of a poke-mode task share one hook
            if not self.deferrable:
                return super().execute(context)
            result = self._check(context)
            if result is not _NOT_READY:
                return result
            self._defer(context)

    def _defer(self, context: Any) -> None:
        wait = getattr(self, "_wait", None)
        if wait is None:  # another run holds the feed: check again after a poke interval
            from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=self.poke_interval)),
                method_name="check_again",
            )
        trigger = XeroChangesTrigger(
            xero_conn_id=self.xero_conn_id,
            tenant_id=self.tenant_id,
            feed=wait["feed"].to_json(),
            mode=self.polling,
            lower=wait["lower"].to_json(),
            upper=wait["upper"].to_json() if wait["upper"] else None,
            settle_seconds=self.settle_seconds,
            poll_interval=self.poke_interval,
            max_records=self.max_records,
            handover=self.hand_over_records,
            end_task=self._task_end(context, wait.get("key")),
        )
        timeout = timedelta(seconds=self.timeout) if self.timeout else None
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)

    def _task_end(self, context: Any, watermark_key: str | None) -> dict[str, Any] | None:
        """What the trigger needs to end this task itself; None when only a worker may."""
        if not (self.end_from_trigger and self.hand_over_records):
            return None
        if self.outlets or not self.do_xcom_push or self.multiple_outputs:
            return None  # asset events and these XCom rules belong to a worker's finish
        from xero_provider.triggers.task_end import TaskEnd

        ti = context["ti"]
        index = getattr(ti, "map_index", None)
        is_mapped = getattr(ti, "is_mapped", None)
        if is_mapped is None:
            is_mapped = index not in (None, -1)
        expanded = next(self.iter_mapped_dependants(), None) is not None
        return TaskEnd(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=-1 if index is None else int(index),
            mode=self.polling,
            on_empty=self.on_empty,
            mapped_length=bool(expanded and not is_mapped),
            watermark_key=watermark_key if self.polling == "watermark" else None,
        ).to_json()

    def check_again(self, context: Any, event: Any = None) -> Any:
        """Back from waiting for another run to finish: one more check, or defer again."""
        return self.execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Deliver the records the trigger read (handed over: no second call to Xero)."""
        with self._task_scope():
            return self._complete(context, event)

    def _handed_over(
        self, hook: Any, feed: Feed, event: dict[str, Any], lower: Position, upper: Position
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The trigger's records and their stage token; read from Xero only when the event
        carries none or the stage is gone (see :mod:`xero_provider.triggers.handover`)."""
        from xero_provider.state.staged_reads import StagedReads

        records, source = received(
            event, feed, lower, upper, lambda: StagedReads.for_config(hook.config)
        )
        if records is not None:
            log.info("%d record(s) handed over by the trigger (%s)", len(records), source)
            return records, event.get("stage") if source == "stage" else None
        log.warning("Reading %s to %s from Xero: %s", lower, upper, source)
        return self._read(hook, feed, lower, upper), None

    def _complete(self, context: Any, event: dict[str, Any] | None) -> Any:
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "no event")
            raise AirflowException(f"{self.task_id}: the Xero changes trigger failed: {message}")
        feed = self._feed()
        hook = self._hook()
        lower = Position.from_json(event["lower"])
        upper = Position.from_json(event["upper"])
        records, stage = self._handed_over(hook, feed, event, lower, upper)
        try:
            result = self._deliver(context, hook, feed, lower, upper, records)
        except AirflowSkipException:
            self._discard(hook, stage)
            raise
        self._discard(hook, stage)  # delivered; a failure keeps it for the TTL (harmless)
        return result

    def _discard(self, hook: Any, stage: str | None) -> None:
        if stage:
            from xero_provider.state.staged_reads import StagedReads

            StagedReads.for_config(hook.config).discard(stage)

    def _deliver(
        self,
        context: Any,
        hook: Any,
        feed: Feed,
        lower: Position,
        upper: Position,
        records: list[dict[str, Any]],
    ) -> Any:
        if self.polling == "window":
            return self._finish(context, records)
        store, key = self._store_and_key(hook, context, feed)
        run_id = context["dag_run"].run_id
        if not records:  # everything in the range changed again since: nothing to hold
            store.commit(key, upper, expected=store.get(key).committed)
            store.resolve_pending(key, run_id, succeeded=False)
            return self.execute(context)
        store.set_pending(key, run_id, lower, upper)
        return self._finish(context, records)


def _run_not_found(error: Exception) -> bool:
    """Whether ``get_dagrun_state`` failed because Airflow has no such run: the Execution
    API answers 404, which a supervised task sees as an ``AirflowRuntimeError`` and an
    in-process one (``dag.test()``) as the client's ``HTTPStatusError``."""
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code == 404
    if isinstance(error, AirflowRuntimeError):
        detail = getattr(error.error, "detail", None)
        return isinstance(detail, dict) and detail.get("status_code") == 404
    return False


class XeroNewOrUpdatedContactSensor(XeroChangesSensor):
    """New or updated contacts, archived ones included (``ContactStatus`` ARCHIVED)."""

    resource_name = "Contacts"


class XeroNewOrUpdatedBillSensor(XeroChangesSensor):
    """New or updated bills (ACCPAY invoices), deleted and voided ones included."""

    resource_name = "Bills"


class XeroNewOrUpdatedBankTransactionSensor(XeroChangesSensor):
    """New or updated bank transactions; ``types`` picks SPEND, RECEIVE, ..."""

    resource_name = "BankTransactions"


class XeroNewOrUpdatedPaymentSensor(XeroChangesSensor):
    """New or deleted payments (Xero payments change only by deletion)."""

    resource_name = "Payments"


class XeroNewOrUpdatedQuoteSensor(XeroChangesSensor):
    """New or updated quotes (Xero takes no ``where`` on quotes; use ``statuses``)."""

    resource_name = "Quotes"


class XeroNewOrUpdatedSalesInvoiceSensor(XeroChangesSensor):
    """New or updated sales invoices (ACCREC), deleted and voided ones included."""

    resource_name = "SalesInvoices"


class XeroNewOrUpdatedCreditNoteSensor(XeroChangesSensor):
    """New or updated credit notes; ``types`` picks ACCPAYCREDIT or ACCRECCREDIT."""

    resource_name = "CreditNotes"
