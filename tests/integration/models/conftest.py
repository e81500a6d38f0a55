"""The registry's integration tests run on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    return on_each_database
