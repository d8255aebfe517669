"""SIGTERM to ``make test`` stops what the tests started (tests/terminate.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SUITE = """
import os, signal, subprocess, time
from pathlib import Path
import pytest

OUT = Path(os.environ["TERMINATE_OUT"])

@pytest.fixture
def stack():
    # like an Airflow component: its own session, out of reach of pytest's process group
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    (OUT / f"started-{child.pid}").touch()
    yield child
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    (OUT / f"stopped-{child.pid}").touch()

@pytest.mark.parametrize("n", [1, 2])
def test_waits(stack, n):
    time.sleep(300)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("workers", [None, 2], ids=["serial", "xdist"])
def test_sigterm_to_pytest_tears_down_the_fixtures(tmp_path: Path, workers: int | None) -> None:
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.terminate"]\n')
    out = tmp_path / "out"
    out.mkdir()
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)]  # fmt: skip
    if workers:
        args += ["-n", str(workers)]
    env = {**os.environ, "TERMINATE_OUT": str(out), "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        wanted = workers or 1
        deadline = time.monotonic() + 120
        while len(list(out.glob("started-*"))) < wanted and time.monotonic() < deadline:
            time.sleep(0.2)
        started = [int(p.name.split("-")[1]) for p in out.glob("started-*")]
        assert len(started) == wanted, run.stdout
        run.send_signal(signal.SIGTERM)
        run.wait(60)
    finally:
        if run.poll() is None:
            run.kill()
    stopped = {int(p.name.split("-")[1]) for p in out.glob("stopped-*")}
    left = [pid for pid in started if alive(pid)]
    for pid in left:  # a failed test leaves nothing running either
        os.kill(pid, signal.SIGKILL)
    assert stopped == set(started), run.stdout.read() if run.stdout else ""
    assert not left
