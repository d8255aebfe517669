"""Steps and their drivers: every hook operation is written once, run sync or async.

An operation (send one request with its retries, page through a list, a keyed write
with its ledger steps, a per-record action, a range read) is a generator that *yields
effects* and receives their results: :class:`Exchange` (one paced HTTP request),
:class:`Blocking` (database or token-store work), :class:`Sleep` (a retry's backoff),
:class:`Connect` (read the Airflow connection) and :class:`Emit` (hand a value to the
caller, page by page). The generator does no I/O, so the logic exists once; a driver
executes each effect with its own I/O: :func:`run`/:func:`stream` block, :func:`arun`/
:func:`astream` await and put blocking work in a worker thread, so a triggerer's event
loop never blocks. Sub-operations compose with ``yield from``; :func:`relay` runs a
generator written against a smaller vocabulary (a range reader that yields
:class:`~xero_provider.hooks.paging.PageRequest`) by replacing those effects with steps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xero_provider.hooks.runtime import Runtime

Steps = Generator[Any, Any, Any]


@dataclass(frozen=True)
class Exchange:
    """Send one request inside the organisation's pacing (in-process slot, a rate-budget
    unit, a cross-process call slot), then tell the budget what Xero counted.

    The driver answers with the ``httpx.Response``; transport errors are thrown back.
    """

    runtime: Runtime
    method: str
    url: str
    params: dict[str, Any] | None
    json: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Blocking:
    """A blocking call (the token store, the write ledger): in a thread on an event loop."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Sleep:
    """Wait this long (a retry's backoff or ``Retry-After``)."""

    seconds: float


@dataclass(frozen=True)
class Connect:
    """The Airflow connection of this id (the async driver reads it without blocking)."""

    conn_id: str


@dataclass(frozen=True)
class Emit:
    """A value for the caller of :func:`stream` / :func:`astream` (a page of records)."""

    value: Any


@dataclass(frozen=True)
class _Finished:
    value: Any


class _Cursor:
    """One generator of steps and what goes back into it next: an answer or an error."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self._answer: Any = None
        self._error: Exception | None = None

    def advance(self) -> Any:
        """The next effect, or :class:`_Finished` with the generator's return value."""
        answer, error = self._answer, self._error
        self._answer, self._error = None, None
        try:
            return self.steps.send(answer) if error is None else self.steps.throw(error)
        except StopIteration as done:
            return _Finished(done.value)

    def answer(self, value: Any) -> None:
        self._answer = value

    def fail(self, error: Exception) -> None:
        self._error = error


def relay(steps: Steps, replace: Callable[[Any], Steps | None]) -> Steps:
    """Run ``steps`` inside another generator of steps: each effect ``replace`` turns into
    sub-steps runs as those (their result or error goes back); the rest pass outwards."""
    cursor = _Cursor(steps)
    try:
        while not isinstance(effect := cursor.advance(), _Finished):
            inner = replace(effect)
            try:
                cursor.answer((yield from inner) if inner is not None else (yield effect))
            except Exception as error:
                cursor.fail(error)
        return effect.value
    finally:
        steps.close()


def _nothing() -> Steps:
    return None
    yield  # a generator that finishes at once


def collect(steps: Steps) -> Steps:
    """Run ``steps`` in place and return the list of what it emits (with its other
    effects passed outwards): a whole list read inside a write flow or a range read."""
    gathered: list[Any] = []

    def keep(effect: Any) -> Steps | None:
        if not isinstance(effect, Emit):
            return None
        gathered.append(effect.value)
        return _nothing()

    yield from relay(steps, keep)
    return gathered


# --- the two drivers ---------------------------------------------------------------------


def stream(steps: Steps, execute: Callable[[Any], Any]) -> Generator[Any, None, Any]:
    """Drive ``steps`` blocking: yield what they emit, return what they return."""
    cursor = _Cursor(steps)
    try:
        while not isinstance(effect := cursor.advance(), _Finished):
            if isinstance(effect, Emit):
                yield effect.value
                continue
            try:
                cursor.answer(execute(effect))
            except Exception as error:
                cursor.fail(error)
        return effect.value
    finally:
        steps.close()


def run(steps: Steps, execute: Callable[[Any], Any]) -> Any:
    """Drive ``steps`` blocking to their end; their return value (emitted values dropped)."""
    driven = stream(steps, execute)
    try:
        while True:
            next(driven)
    except StopIteration as done:
        return done.value


async def _adrive(steps: Steps, execute: Callable[[Any], Awaitable[Any]]) -> AsyncIterator[Any]:
    """Drive ``steps`` on the event loop: what they emit, then :class:`_Finished`."""
    cursor = _Cursor(steps)
    try:
        while not isinstance(effect := cursor.advance(), _Finished):
            if isinstance(effect, Emit):
                yield effect.value
                continue
            try:
                cursor.answer(await execute(effect))
            except Exception as error:
                cursor.fail(error)
        yield effect
    finally:
        steps.close()


async def astream(steps: Steps, execute: Callable[[Any], Awaitable[Any]]) -> AsyncIterator[Any]:
    """As :func:`stream`, awaiting each effect (the return value is dropped)."""
    driven = _adrive(steps, execute)
    try:
        async for item in driven:
            if isinstance(item, _Finished):
                return
            yield item
    finally:
        await driven.aclose()


async def arun(steps: Steps, execute: Callable[[Any], Awaitable[Any]]) -> Any:
    """As :func:`run`, awaiting each effect."""
    driven = _adrive(steps, execute)
    try:
        async for item in driven:
            if isinstance(item, _Finished):
                return item.value
    finally:
        await driven.aclose()
    raise RuntimeError("steps ended without a result")  # pragma: no cover
