"""Xero provider sensors (built in later issues)."""
