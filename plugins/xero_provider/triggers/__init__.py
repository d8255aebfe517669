"""Xero triggers: the changes trigger for deferred sensors, the event trigger for assets."""

from xero_provider.triggers.changes import XeroChangesTrigger
from xero_provider.triggers.events import XeroChangesEventTrigger

__all__ = ["XeroChangesEventTrigger", "XeroChangesTrigger"]
