"""Benchmarks: our hook beside the official xero-python SDK against the local sandbox.

Run with ``python -m tests.benchmarks.run [--quick]`` (``make bench``); pytest does not
collect anything here. See :mod:`tests.benchmarks.run` for what is measured.
"""
