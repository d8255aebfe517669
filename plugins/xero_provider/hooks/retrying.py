"""One retry policy and one retry loop for every Xero call, sync or async (tenacity).

What is retried: 429s other than the daily limit (after ``Retry-After``), 5xx answers,
timeouts and dropped connections. A write is retried only when it carries an
Idempotency-Key, because only then can a retry not create a second record. Backoff is
exponential with jitter and bounded in attempts and total time.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    DoAttempt,
    DoSleep,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from xero_provider.exceptions import XeroDailyLimitError, XeroRateLimitError, XeroServerError
from xero_provider.hooks.driver import Sleep, Steps

log = logging.getLogger(__name__)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_TOTAL_SECONDS = 600.0


def is_retryable(error: BaseException, *, safe_to_repeat: bool) -> bool:
    """Whether trying again can help, decided from the error type, never from message text."""
    if isinstance(error, XeroDailyLimitError):
        return False
    if isinstance(error, XeroRateLimitError):
        return True  # refused before any work was done
    if isinstance(error, XeroServerError | httpx.TransportError):
        return safe_to_repeat
    return False


class _Wait:
    """Retry-After when Xero gives one, else exponential backoff with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial, max=maximum)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, XeroRateLimitError) and error.retry_after is not None:
            return error.retry_after + random.uniform(0, 0.25)
        return self._backoff(state)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "Xero call failed (%s), attempt %d; retrying in %.2f s",
        error,
        state.attempt_number,
        state.next_action.sleep if state.next_action else 0,
    )


def _stop(max_attempts: int):
    """Stop after ``max_attempts`` failures, except that rate-limit refusals spend time, not
    attempts: when several processes share an organisation's minute, a call may be told
    to wait more than once, and that is not a failure (the total time stays bounded)."""
    attempts = stop_after_attempt(max_attempts)
    deadline = stop_after_delay(MAX_TOTAL_SECONDS)

    def stop(state: RetryCallState) -> bool:
        if deadline(state):
            return True
        error = state.outcome.exception() if state.outcome else None
        return not isinstance(error, XeroRateLimitError) and attempts(state)

    return stop


def retry_kwargs(
    method: str,
    has_idempotency_key: bool,
    *,
    max_attempts: int = 6,
    initial_wait: float = 0.5,
    max_wait: float = 30.0,
) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` and ``tenacity.AsyncRetrying`` alike."""
    safe = method.upper() in SAFE_METHODS or has_idempotency_key
    return {
        "retry": retry_if_exception(lambda e: is_retryable(e, safe_to_repeat=safe)),
        "wait": _Wait(initial_wait, max_wait),
        "stop": _stop(max_attempts),
        "before_sleep": _log_retry,
        "reraise": True,
    }


def retried(policy: dict[str, Any], attempt: Callable[[], Steps]) -> Steps:
    """Run ``attempt()``'s steps under ``policy`` (from :func:`retry_kwargs`) until one
    succeeds or the policy gives up (its last error is raised); each wait is a
    :class:`~xero_provider.hooks.driver.Sleep` step, so both drivers share the loop."""
    retrying = Retrying(**policy)
    retrying.begin()
    state = RetryCallState(retrying, fn=None, args=(), kwargs={})
    while True:
        action = retrying.iter(retry_state=state)
        if isinstance(action, DoAttempt):
            try:
                result = yield from attempt()
            except Exception:
                state.set_exception(sys.exc_info())
            else:
                state.set_result(result)
        elif isinstance(action, DoSleep):
            state.prepare_for_next_attempt()
            yield Sleep(float(action))
        else:
            return action
