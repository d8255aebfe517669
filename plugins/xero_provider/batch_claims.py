"""The documented home of :func:`claim_batches` (``from xero_provider.batch_claims import
claim_batches``); the claims themselves live in :mod:`xero_provider.state.batch_claims`."""

from xero_provider.state.batch_claims import BatchClaims, claim_batches

__all__ = ["BatchClaims", "claim_batches"]
