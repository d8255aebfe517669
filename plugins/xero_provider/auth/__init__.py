"""Xero OAuth 2.0: the token endpoint client and rotation-safe access tokens (the store
they rotate under is :mod:`xero_provider.state.token_store`; the CLI is
:mod:`xero_provider.connect.cli`).

``TokenManager`` hands out valid access tokens, refreshing under the store's lock so
that any number of processes rotate a refresh token exactly once; ``XeroAuth`` plugs it
into httpx for the sync and async hooks alike.
"""
