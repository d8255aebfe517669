"""Xero provider triggers (built in later issues)."""
