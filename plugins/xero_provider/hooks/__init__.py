"""Xero provider hooks (built in later issues)."""
