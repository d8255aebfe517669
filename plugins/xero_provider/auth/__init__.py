"""Xero provider auth (built in later issues)."""
