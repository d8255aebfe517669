"""Xero triggers: the changes trigger for deferred sensors (and the event trigger)."""

from xero_provider.triggers.changes import XeroChangesTrigger

__all__ = ["XeroChangesTrigger"]
