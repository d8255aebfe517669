"""The table of emulated resources, looked up by path segment (case-insensitively)."""

from __future__ import annotations

from xero_sandbox.accounting.base import ResourceRules
from xero_sandbox.accounting.contacts import ContactRules

_ALL: list[type[ResourceRules]] = [ContactRules]

try:  # resources other modules add; each module lists its rules in RESOURCE_RULES
    from xero_sandbox.accounting import documents_registry as _more

    _ALL.extend(_more.RESOURCE_RULES)
except ImportError:  # pragma: no cover - only while the document rules are being written
    pass

RULES: dict[str, ResourceRules] = {}
for _cls in _ALL:
    _rules = _cls()
    RULES[getattr(_cls, "path", _cls.name).lower()] = _rules


def rules_for(segment: str) -> ResourceRules | None:
    """The rules for a path segment such as ``contacts`` or ``Invoices``."""
    return RULES.get(segment.lower())
