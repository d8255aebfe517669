"""Xero Accounting API resources: the rules of each, and the generic service over them."""

from __future__ import annotations

from xero_sandbox.accounting.base import ResourceRules
from xero_sandbox.accounting.registry import RULES, rules_for

__all__ = ["RULES", "ResourceRules", "rules_for"]
