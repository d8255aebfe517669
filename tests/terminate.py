"""SIGTERM to a test run tears its fixtures down, so the Airflow stacks it started stop.

Each stack component runs in its own session (``xero_demo.stack``), out of reach of a
signal to pytest's process group; only the fixture that started it can stop it. By
default SIGTERM ends Python at once, fixtures untorn, and the stacks run on. Here SIGTERM
becomes a ``KeyboardInterrupt`` (pytest then runs every fixture's teardown, as on Ctrl-C),
and the controller passes it on to its xdist workers, which hold the stacks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from types import FrameType

import pytest


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (from ``/proc``; empty where there is none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: teardown must not be cut short
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller: tell the workers
        for pid in child_pids(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    raise KeyboardInterrupt(f"signal {signum}: tearing the fixtures down")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
