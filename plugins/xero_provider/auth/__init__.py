"""Xero OAuth 2.0: the token endpoint client, the rotation-safe token store, and the CLI.

``TokenManager`` hands out valid access tokens, refreshing under the store's lock so
that any number of processes rotate a refresh token exactly once; ``XeroAuth`` plugs it
into httpx for the sync and async hooks alike.
"""
