"""Batch claims on SQLite and PostgreSQL: a batch key is claimed by one run; that run may
claim it again (a retry), another may not; consumers do not share claims."""

from __future__ import annotations

import uuid

import pytest

from xero_provider.batch_claims import BatchClaims, claim_batches


def test_a_batch_is_claimed_by_one_run(store_url) -> None:
    claims = BatchClaims(store_url)
    consumer, key = f"dag-{uuid.uuid4().hex[:8]}", "feed:1000:2000:0"
    assert claims.claim(consumer, key, "run-1")
    assert not claims.claim(consumer, key, "run-2")  # the replay's run
    assert claims.claim(consumer, key, "run-1")  # run-1 retried: its own claim
    assert claims.claim(f"{consumer}-other", key, "run-2")  # another consumer
    assert claims.claim(consumer, "feed:2000:3000:0", "run-2")  # the next batch
    assert not BatchClaims(store_url).claim(consumer, key, "run-3")  # stored, not cached


def test_claiming_without_a_run_id_is_refused() -> None:
    # Without one every batch would look claimed by someone else and be skipped silently.
    with pytest.raises(ValueError, match="run_id"):
        claim_batches({}, xero_conn_id="xero_default", consumer="dag", run_id=None)


class _Event:
    def __init__(self, batch_key: object) -> None:
        self.extra = {"payload": {"batch_key": batch_key, "ids": []}}


@pytest.mark.parametrize(
    ("field", "kwargs", "events"),
    [
        ("consumer", {"consumer": "", "run_id": "r"}, []),
        ("consumer", {"consumer": "d" * 251, "run_id": "r"}, []),
        ("run_id", {"consumer": "dag", "run_id": 42}, []),
        ("batch_key", {"consumer": "dag", "run_id": "r"}, [_Event("k" * 1001)]),
        ("batch_key", {"consumer": "dag", "run_id": "r"}, [_Event(["not", "text"])]),
    ],
)
def test_what_the_table_cannot_hold_is_refused_naming_the_field(field, kwargs, events) -> None:
    # No connection exists for this conn id: a refusal must come before any store is opened.
    with pytest.raises(ValueError, match=field):
        claim_batches({"asset": events}, xero_conn_id="no_such_connection", **kwargs)


def test_a_bad_key_anywhere_claims_nothing(store_url: str, monkeypatch) -> None:
    from xero_provider.state import batch_claims

    claims = BatchClaims(store_url)
    monkeypatch.setattr(batch_claims.BatchClaims, "for_connection", lambda _: claims)
    consumer = f"dag-{uuid.uuid4().hex[:8]}"
    events = {"asset": [_Event("feed:1:2:0"), _Event("k" * 1001)]}
    with pytest.raises(ValueError, match="batch_key"):
        claim_batches(events, xero_conn_id="x", consumer=consumer, run_id="run-1")
    assert claims.claim(consumer, "feed:1:2:0", "run-2")  # the good key was not claimed
