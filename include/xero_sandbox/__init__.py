"""A faithful local emulator of Xero's identity and Accounting APIs.

Run it with ``python -m xero_sandbox --seed-demo``; build it in-process with
:func:`xero_sandbox.app.create_app`; serve it to tests with
:class:`xero_sandbox.testing.SandboxServer`.
"""

__version__ = "0.1.0"
