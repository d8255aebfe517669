"""Xero provider operators (built in later issues)."""
