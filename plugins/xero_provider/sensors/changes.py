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
  pending position, ``failed`` drops it (so this run receives the same changes again),
  anything else (the run is still going) makes this run wait;
* a retry or clear of the run that holds the pending delivery reads the same range again.

This "commit at the next start" keeps the rule inside the sensor (no listener plugin or
DAG callback to install, and it works under ``airflow dags test`` and real workers
alike: the run's state comes from the Execution API). Its cost: the last run's delivery is
committed only when a next run starts, and runs of one watermark task are serialised.

**Exactness** (both modes; details in :mod:`xero_provider.triggers.reading`): the read
range always ends at least ``settle_seconds`` in the past, so a record changed while pages
are read leaves the range instead of shifting it; pages are ordered by ``UpdatedDateUTC``
then ID, so ties across a page boundary keep their order; ``If-Modified-Since`` is sent
rounded down to the second and the exact millisecond bounds are applied per record;
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

Output: the changed records (a list of dicts) as the task's return value, and their IDs
under the XCom key ``ids``: ``process.expand(record=sensor.output)`` or
``process.expand(record_id=sensor.output["ids"])``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from xero_provider.state.feed import Feed, Position, settled_upper
from xero_provider.triggers.changes import MODES, XeroChangesTrigger, batch_of
from xero_provider.triggers.reading import XeroChangesUnstable, read_range_sync

log = logging.getLogger(__name__)
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
    """

    template_fields: Sequence[str] = ("tenant_id", "where", "statuses", "types", "start_from")
    resource_name: str | None = None  # set by the named subclasses
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        resource = resource or self.resource_name
        if not resource:
            raise ValueError("resource: name the Xero resource to watch, e.g. 'Contacts'")
        if polling not in MODES:
            raise ValueError(f"polling must be one of {MODES}, got {polling!r}")
        if on_empty not in EMPTY:
            raise ValueError(f"on_empty must be one of {EMPTY}, got {on_empty!r}")
        if not isinstance(settle_seconds, int | float) or not 1 <= settle_seconds <= 86400:
            raise ValueError(f"settle_seconds must be 1..86400, got {settle_seconds!r}")
        if not isinstance(max_records, int) or isinstance(max_records, bool) or max_records < 1:
            raise ValueError(f"max_records must be a positive integer, got {max_records!r}")
        Feed.build(resource, contact_kind=contact_kind)  # fail early on the resource itself
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

    # --- pieces -----------------------------------------------------------------------

    def _feed(self) -> Feed:
        return Feed.build(
            self.resource,
            where=self.where,
            statuses=self.statuses,
            types=self.types,
            contact_kind=self.contact_kind,
        )

    def _hook(self) -> Any:
        from xero_provider.hooks import XeroHook

        hook = XeroHook(self.xero_conn_id, tenant_id=self.tenant_id)
        hook.config  # noqa: B018 - load the connection (and its tenant) now
        return hook

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
        tenant = hook.tenant_id or f"app:{hook.config.client_id}"
        return WatermarkStore.for_config(hook.config), watermark_key(
            ti.dag_id, task, tenant, feed.key()
        )

    def _start_position(self) -> Position:
        if self.start_from in (None, "", "now"):
            return settled_upper(datetime.now(UTC), timedelta(seconds=self.settle_seconds))
        try:
            return Position.at(str(self.start_from))
        except ValueError:
            raise AirflowFailException(
                f"start_from must be 'now' or an ISO timestamp with a timezone, "
                f"got {self.start_from!r}"
            ) from None

    def _read(self, hook: Any, feed: Feed, lower: Position, upper: Position) -> list[dict]:
        try:
            return read_range_sync(hook, feed, lower, upper).records
        except XeroChangesUnstable as error:
            raise AirflowException(str(error)) from error  # a retry reads again

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
        self._wait = {"lower": lower, "upper": None, "feed": feed}
        if upper.ts <= lower.ts:
            return _NOT_READY
        records = self._read(hook, feed, lower, upper)
        batch, after = batch_of(feed, records, lower, upper, self.max_records)
        if not batch:
            return _NOT_READY
        store.set_pending(key, run_id, lower, after)
        return self._finish(context, batch)

    def _resolve_other_run(self, store: Any, key: str, other: str, context: Any) -> bool:
        """Commit or drop another run's delivery by its final state; False while it runs."""
        try:
            state = context["ti"].get_dagrun_state(context["ti"].dag_id, other)
        except Exception as error:  # the run is gone: its delivery never counted
            log.warning("Run %s holding the feed cannot be found (%s); dropping it", other, error)
            state = "failed"
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
        result = self._check(context)
        if result is _NOT_READY:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=result)

    def execute(self, context: Any) -> Any:
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
        )
        timeout = timedelta(seconds=self.timeout) if self.timeout else None
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)

    def check_again(self, context: Any, event: Any = None) -> Any:
        """Back from waiting for another run to finish: one more check, or defer again."""
        return self.execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Read the range the trigger found on the worker and deliver it."""
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "no event")
            raise AirflowException(f"{self.task_id}: the Xero changes trigger failed: {message}")
        feed = self._feed()
        hook = self._hook()
        lower = Position.from_json(event["lower"])
        upper = Position.from_json(event["upper"])
        records = self._read(hook, feed, lower, upper)
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
