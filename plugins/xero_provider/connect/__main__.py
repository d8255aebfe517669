"""Entry point of ``python -m xero_provider.connect`` (the same CLI as ``python -m
xero_provider.auth``; see :mod:`xero_provider.connect.cli`)."""

from xero_provider.connect.cli import main

raise SystemExit(main())
