"""Fixtures of the Resources unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from resources_kit import make_service

from labrig.resources.service import ResourceService


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def resources(db_url: str, tmp_path: Path) -> Iterator[ResourceService]:
    (tmp_path / "work" / "nb").mkdir(parents=True)
    service = make_service(db_url, tmp_path)
    yield service
    service.db.dispose()
