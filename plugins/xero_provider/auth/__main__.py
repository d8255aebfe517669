"""Entry point of the documented ``python -m xero_provider.auth`` command.

The CLI lives with connecting (:mod:`xero_provider.connect.cli`); this script only
delegates to it, and nothing imports it, so ``auth`` itself still imports no ``connect``.
"""

from xero_provider.connect.cli import main

raise SystemExit(main())
