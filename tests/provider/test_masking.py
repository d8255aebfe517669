"""Tokens are masked by shape: every one stays masked, the masker does not grow per token."""

from __future__ import annotations

import secrets

import jwt

from xero_provider.auth import oauth
from xero_provider.auth.masking import shape_pattern


def _masker():
    from airflow.sdk.log import _secrets_masker

    return _secrets_masker()


def _access_token() -> str:
    return jwt.encode({"jti": secrets.token_hex(8), "scope": ["a"]}, "k" * 32, algorithm="HS256")


def test_a_thousand_rotations_add_no_pattern_and_all_stay_masked() -> None:
    masker = _masker()
    oauth.register_secrets(_access_token(), secrets.token_hex(32))
    before = set(masker.patterns)
    issued = []
    for _ in range(1000):
        pair = (_access_token(), secrets.token_hex(32))
        oauth.register_secrets(*pair)
        issued.extend(pair)
    assert masker.patterns == before
    for token in issued[::97] + issued[-2:]:
        line = f"Authorization: Bearer {token}; next"
        assert token not in masker.redact(line)
        assert masker.redact(line).endswith("; next")


def test_other_text_is_left_alone() -> None:
    masker = _masker()
    oauth.register_secrets(secrets.token_hex(32))
    guid = "0b9c5f0e-1111-4a4a-9b9b-000000000001"
    assert masker.redact(f"Contact {guid} is fine") == f"Contact {guid} is fine"
    short_hex = secrets.token_hex(16)  # another length: not the refresh token's shape
    assert short_hex in masker.redact(f"digest {short_hex}")


def test_unshaped_values_are_masked_literally() -> None:
    odd = "not a token but secret: " + secrets.token_hex(4)
    assert shape_pattern(odd) is None
    oauth.register_secrets(odd)
    assert odd not in _masker().redact(f"x {odd} y")
