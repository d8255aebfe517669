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
