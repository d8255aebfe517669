"""Entry point of ``python -m xero_provider.auth`` (see :mod:`xero_provider.auth.cli`)."""

from xero_provider.auth.cli import main

raise SystemExit(main())
