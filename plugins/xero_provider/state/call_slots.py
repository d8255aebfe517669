"""At most N calls in flight per organisation, across every process using the store.

Xero refuses a sixth concurrent call to one organisation with a 429 whose
``X-Rate-Limit-Problem`` is ``concurrent`` (API_NOTES.md "Rate limits"; Xero's OAuth 2.0
API limits page: "Concurrent Limit: 5 calls in progress at one time"). A semaphore in one
process cannot stop ten processes from having ten calls in progress, so the slots live in
the token store's database next to the rate budget: one row per slot and organisation,
taken in a short transaction before the request and given back in another after it.

A slot is a lease: it carries an expiry (the request timeout plus a margin), so a process
killed while holding one blocks nobody for longer than that; the next process that finds
every slot taken and one expired takes the expired one over.

Two transactions per call would cost more than the call itself against a near API (about
0.5 ms each on a SQLite file), so a process keeps a slot it just used for back-to-back
calls: a call that starts within ``IDLE_SECONDS`` of the last one ending reuses it without
touching the database, for at most ``STICKY_SECONDS`` from the slot's taking (then it is
given back and taken again). A background thread gives back a slot idle for
``IDLE_SECONDS``. The lease covers any reuse: a slot is reused only while its expiry is
still more than the request timeout away.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import random
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

XERO_CONCURRENT = 5
LEASE_MARGIN_SECONDS = 5.0  # beyond the request timeout, before a holder counts as gone
POLL_SECONDS = (0.005, 0.05)  # first and longest wait between tries when every slot is held
IDLE_SECONDS = 0.02  # a kept slot unused this long is given back
STICKY_SECONDS = 0.25  # a slot is kept at most this long after it was taken

metadata = sa.MetaData()
slots_table = sa.Table(
    "xero_call_slots",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("holder", sa.String(80), nullable=True),  # None: free
    sa.Column("expires", sa.Float, nullable=False),
)


class CallSlots:
    """Take one of an organisation's in-flight slots around each call.

    :param store: the token store whose database holds the slots.
    :param client_id: the app (Xero counts concurrent calls per app and organisation).
    :param limit: slots per organisation (Xero's 5); 0 or less turns the shared limit off.
    :param lease_seconds: how long a taken slot lasts if its holder never gives it back.
    """

    def __init__(
        self,
        store: TokenStore,
        client_id: str,
        limit: int = XERO_CONCURRENT,
        lease_seconds: float = 60.0 + LEASE_MARGIN_SECONDS,
    ) -> None:
        self.store = store
        self.client_id = client_id
        self.limit = limit
        self.lease_seconds = lease_seconds
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._count = 0
        self._lock = threading.Lock()
        self._rows_made: set[str] = set()
        # tenant -> [(holder, taken at, idle since)]: slots this process holds but is not using
        self._kept: dict[str, list[tuple[str, float, float]]] = {}
        self._stale: list[tuple[str, str]] = []  # kept slots found too old: to give back
        self._wake = threading.Condition(self._lock)
        self._reaper_pid: int | None = None
        self._reaping = threading.Lock()  # held while the reaper gives slots back
        self._reaper_asleep = False  # waiting with nothing kept: a new kept slot must wake it
        _instances.add(self)
        if limit > 0:
            store.ensure_tables(metadata)

    def _after_fork(self) -> None:
        """In a forked child: fresh locks (another thread may have held them at the fork)
        and none of the parent's kept slots."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._reaping = threading.Lock()
        self._kept.clear()
        self._stale.clear()
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._reaper_pid = None
        self._reaper_asleep = False

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def _key(self, tenant: str) -> str:
        return f"{self.client_id}:{tenant}"

    def _holder(self) -> str:
        with self._lock:
            self._count += 1
            return f"{self._prefix}-{self._count}"

    def try_acquire(self, tenant: str, now: float | None = None) -> tuple[str | None, float]:
        """Take a free (or expired) slot: ``(holder, 0)``, or ``(None, seconds until the
        soonest lease expires)`` when every slot is held."""
        now = time.time() if now is None else now
        key = self._key(tenant)
        holder = self._holder()
        with self.store.transaction(write=True) as conn:
            if key not in self._rows_made:  # once per key and process: rows stay
                self._insert_slots(conn, key)
            rows = self._lock_slots(conn, key)
            if len(rows) < self.limit:  # another thread's insert was not committed yet
                self._insert_slots(conn, key)  # waits for that commit on PostgreSQL
                rows = self._lock_slots(conn, key)
            self._rows_made.add(key)
            free = next((r.slot for r in rows if r.holder is None or r.expires <= now), None)
            if free is None:
                return None, max(0.0, min(r.expires for r in rows) - now) if rows else 0.0
            conn.execute(
                sa.update(slots_table)
                .where(slots_table.c.key == key, slots_table.c.slot == free)
                .values(holder=holder, expires=now + self.lease_seconds)
            )
        return holder, 0.0

    def _insert_slots(self, conn: Any, key: str) -> None:
        insert = self.store.insert(slots_table).on_conflict_do_nothing(
            index_elements=["key", "slot"]
        )
        rows = [{"key": key, "slot": n, "holder": None, "expires": 0.0} for n in range(64)]
        conn.execute(insert, rows[: self.limit])

    def _lock_slots(self, conn: Any, key: str) -> list[Any]:
        return conn.execute(
            sa.select(slots_table.c.slot, slots_table.c.holder, slots_table.c.expires)
            .where(slots_table.c.key == key, slots_table.c.slot < self.limit)
            .order_by(slots_table.c.slot)
            .with_for_update()
        ).all()

    def release(self, tenant: str, holder: str) -> None:
        """Give the slot back (a no-op when its lease expired and someone took it over)."""
        with self.store.transaction(write=True) as conn:
            conn.execute(
                sa.update(slots_table)
                .where(slots_table.c.key == self._key(tenant), slots_table.c.holder == holder)
                .values(holder=None, expires=0.0)
            )

    def in_flight(self, tenant: str, now: float | None = None) -> int:
        """Slots held now (unexpired), as the store knows it."""
        now = time.time() if now is None else now
        with self.store.transaction(write=False) as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(slots_table)
                .where(
                    slots_table.c.key == self._key(tenant),
                    slots_table.c.holder.is_not(None),
                    slots_table.c.expires > now,
                )
            ).scalar_one()

    def _pause(self, attempt: int, expires_in: float, deadline: float) -> float:
        low, high = POLL_SECONDS
        pause = min(high, low * 2**attempt, max(expires_in, low)) * random.uniform(0.5, 1.0)
        if time.monotonic() + pause > deadline:
            raise TimeoutError("no Xero call slot came free in time")
        return pause

    # --- keeping a slot for back-to-back calls ---------------------------------------------

    def _reuse(self, tenant: str) -> tuple[str, float] | None:
        """A kept slot of this process still fit for a call, or None (no database work)."""
        now = time.time()
        with self._lock:
            if self._reaper_pid not in (None, os.getpid()):  # a forked child: not its slots
                self._kept.clear()
                self._stale.clear()
                self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
                self._reaper_pid = None
            kept = self._kept.get(tenant)
            while kept:
                holder, taken, idle_since = kept.pop()
                if now - taken < STICKY_SECONDS and now - idle_since < IDLE_SECONDS:
                    return holder, taken
                self._stale.append((tenant, holder))
        return None

    def _keep(self, tenant: str, holder: str, taken: float) -> None:
        with self._lock:
            kept = self._kept.setdefault(tenant, [])
            kept.append((holder, taken, time.time()))
            if self._reaper_pid != os.getpid():
                self._reaper_pid = os.getpid()
                threading.Thread(target=self._reap, name="xero-call-slots", daemon=True).start()
            elif self._reaper_asleep:  # only then: a notify per call costs a thread switch
                self._reaper_asleep = False
                self._wake.notify()

    def _reap(self) -> None:
        """Give back kept slots idle for ``IDLE_SECONDS`` (runs in a daemon thread)."""
        while True:
            with self._lock:
                now = time.time()
                due: list[tuple[str, str]] = self._stale[:]
                self._stale.clear()
                soonest = None
                for tenant, kept in self._kept.items():
                    for entry in kept[:]:
                        ends = min(entry[2] + IDLE_SECONDS, entry[1] + STICKY_SECONDS)
                        if ends <= now:
                            kept.remove(entry)
                            due.append((tenant, entry[0]))
                        elif soonest is None or ends < soonest:
                            soonest = ends
                if not due:
                    self._reaper_asleep = soonest is None
                    self._wake.wait(None if soonest is None else soonest - now)
                    continue
                self._reaping.acquire()  # taken before the slots leave ``_kept``'s view
            try:
                for tenant, holder in due:
                    with contextlib.suppress(Exception):  # else the lease expires on its own
                        self.release(tenant, holder)
            finally:
                self._reaping.release()

    def release_kept(self) -> None:
        """Give back every slot this process keeps (a hook closing, the process ending)."""
        with self._lock:
            due = [(t, e[0]) for t, kept in self._kept.items() for e in kept] + self._stale[:]
            self._kept.clear()
            self._stale.clear()
        for tenant, holder in due:
            self.release(tenant, holder)
        with self._reaping:  # and those the reaper was giving back just now are back
            pass

    def _acquire_new(self, tenant: str, deadline: float) -> tuple[str, float]:
        attempt = 0
        while True:
            taken = time.time()
            holder, expires_in = self.try_acquire(tenant, now=taken)
            if holder is not None:
                return holder, taken
            time.sleep(self._pause(attempt, expires_in, deadline))
            attempt += 1

    @contextmanager
    def hold(self, tenant: str, deadline_seconds: float = 3600.0) -> Iterator[None]:
        """Hold a slot for the ``with`` block (nothing when the limit is off)."""
        if not self.enabled:
            yield
            return
        slot = self._reuse(tenant)
        if slot is None:
            self._flush_stale()
            slot = self._acquire_new(tenant, time.monotonic() + deadline_seconds)
        try:
            yield
        finally:
            self._keep(tenant, *slot)

    def _flush_stale(self) -> None:
        """Give back the slots this process stopped keeping, then wait for the reaper to
        finish giving back those it took out of ``_kept`` just now: else the new slot
        and the old one are both in the table for a moment, two in flight for one loop
        (seen under load in a clean-clone ``.ci/run``: ``in_flight`` read 2)."""
        with self._lock:
            due = self._stale[:]
            self._stale.clear()
        for tenant, holder in due:
            self.release(tenant, holder)
        with self._reaping:
            pass

    @asynccontextmanager
    async def ahold(self, tenant: str, deadline_seconds: float = 3600.0) -> AsyncIterator[None]:
        """The same without blocking the event loop (the database work runs in a thread)."""
        if not self.enabled:
            yield
            return
        slot = self._reuse(tenant)
        if slot is None:
            await asyncio.to_thread(self._flush_stale)
            deadline = time.monotonic() + deadline_seconds
            attempt = 0
            while True:
                taken = time.time()
                holder, expires_in = await asyncio.to_thread(self.try_acquire, tenant, taken)
                if holder is not None:
                    slot = (holder, taken)
                    break
                await asyncio.sleep(self._pause(attempt, expires_in, deadline))
                attempt += 1
        try:
            yield
        finally:
            self._keep(tenant, *slot)


_instances: weakref.WeakSet[CallSlots] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for slots in list(_instances):
        slots._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)

_slots: dict[tuple[str, str, int, float], CallSlots] = {}
_slots_lock = threading.Lock()


def slots_for(store: TokenStore, client_id: str, limit: int, lease_seconds: float) -> CallSlots:
    """One slots object per store, app and settings in this process."""
    key = (store.url, client_id, limit, lease_seconds)
    with _slots_lock:
        found = _slots.get(key)
        if found is None:
            found = _slots[key] = CallSlots(store, client_id, limit, lease_seconds)
        return found


@atexit.register
def _release_all_kept() -> None:
    """A process ending gives back the slots it keeps instead of leaving them to expire."""
    with _slots_lock:
        every = list(_slots.values())
    for slots in every:
        with contextlib.suppress(Exception):  # else the leases expire on their own
            slots.release_kept()
