"""Results: rows of ours beside the SDK's figure, targets, the printed table and the JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

OPERATORS = {"<=": "≤", ">=": "≥", "==": "="}


@dataclass
class Target:
    """A figure of ours that must be ``op`` ``limit`` (``<=``, ``>=`` or ``==``)."""

    op: str
    limit: float
    unit: str = ""  # "x" when the target is on the ratio, not on our figure

    def met_by(self, value: float) -> bool:
        if self.op == "<=":
            return value <= self.limit
        if self.op == ">=":
            return value >= self.limit
        return value == self.limit

    def label(self) -> str:
        return f"{OPERATORS[self.op]} {fmt(self.limit)}{self.unit}"


@dataclass
class Row:
    """One figure: ours, the SDK way's, their ratio and (maybe) a target ours must meet.

    ``shown_ours``/``shown_sdk`` replace the printed numbers when a row needs more than
    one (calls shown as ``total (api+token)``); the numbers stay in the JSON.
    """

    metric: str
    ours: float | None
    sdk: float | None = None
    target: Target | None = None
    shown_ours: str | None = None
    shown_sdk: str | None = None
    passed: bool | None = None  # set explicitly when the check is not just ``ours op limit``
    compare: bool = True  # False where a ratio means nothing (counts that may be zero)

    def __post_init__(self) -> None:
        if self.passed is None and self.target is not None:
            value = self.ratio if self.target.unit == "x" else self.ours
            self.passed = value is not None and self.target.met_by(value)

    @property
    def ratio(self) -> float | None:
        if not self.compare or self.ours is None or not self.sdk:
            return None
        return self.ours / self.sdk

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "ours": self.ours,
            "sdk": self.sdk,
            "ratio_ours_to_sdk": None if self.ratio is None else round(self.ratio, 4),
            "target": None
            if self.target is None
            else f"{self.target.op} {self.target.limit}{self.target.unit}",
            "passed": self.passed,
        }


@dataclass
class BenchResult:
    key: str
    title: str
    ours_way: str
    sdk_way: str
    rows: list[Row]
    settings: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)  # raw measurements for the JSON
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed is not False for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "ours": self.ours_way,
            "sdk": self.sdk_way,
            "settings": self.settings,
            "rows": [row.as_dict() for row in self.rows],
            "targets_passed": self.passed,
            "figures": self.figures,
            "notes": self.notes,
        }


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and value > 99):
        return f"{int(value):,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


COLUMNS = (("metric", 34), ("ours", 16), ("SDK way", 18), ("ours/SDK", 9), ("target", 9))


def table(results: list[BenchResult]) -> str:
    """The whole report as fixed-width text."""
    header = "  ".join(name.ljust(width) for name, width in COLUMNS) + "  result"
    lines = []
    for number, result in enumerate(results, 1):
        lines += ["", f"{number}. {result.title}", f"   ours: {result.ours_way}"]
        lines += [f"   SDK:  {result.sdk_way}", "   " + header, "   " + "-" * len(header)]
        for row in result.rows:
            cells = (
                row.metric,
                row.shown_ours or fmt(row.ours),
                row.shown_sdk or fmt(row.sdk),
                fmt_ratio(row.ratio),
                row.target.label() if row.target else "",
            )
            verdict = {True: "PASS", False: "FAIL", None: ""}[row.passed]
            text = "  ".join(c.ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True))
            lines.append(f"   {text}  {verdict}".rstrip())
        lines += [f"   note: {note}" for note in result.notes]
    return "\n".join(lines)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment(repo: Path, quick: bool) -> dict[str, Any]:
    """What the figures depend on: machine, interpreter, versions, commit."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "mode": "quick" if quick else "full",
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "git_commit": commit or None,
        "packages": {
            name: _version(name)
            for name in ("apache-airflow", "httpx", "xero-python", "fastapi", "uvicorn", "tenacity")
        },
        "server": "xero_sandbox on 127.0.0.1 (one uvicorn process)",
    }


def write_json(path: Path, env: dict[str, Any], results: list[BenchResult], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "environment": env,
        "duration_seconds": round(seconds, 1),
        "all_targets_passed": all(r.passed for r in results),
        "benchmarks": [r.as_dict() for r in results],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
