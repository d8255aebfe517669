"""Fixtures the example-DAG tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xero_examples.warehouse import Warehouse


@pytest.fixture
def store(tmp_path) -> Iterator[Warehouse]:
    """An empty SQLite warehouse with every table, disposed afterwards."""
    warehouse = Warehouse(f"sqlite:///{tmp_path}/warehouse.db")
    warehouse.create_tables()
    yield warehouse
    warehouse.dispose()
