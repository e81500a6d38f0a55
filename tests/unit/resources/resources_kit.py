"""Builds a ResourceService on a fresh database with a two-GPU test inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labrig.resources.service import ResourceService
from labrig.store import Database

INVENTORY = [
    {"uuid": "GPU-aaaaaaaa-0000-0000-0000-000000000000", "model": "A100-SXM4-80GB"},
    {"uuid": "GPU-bbbbbbbb-0000-0000-0000-000000000000", "model": "A100-SXM4-80GB"},
]


def make_service(db_url: str, root: Path, migrate: bool = True, **config: Any) -> ResourceService:
    db = Database(db_url)
    if migrate:  # Alembic is not thread-safe: racing workers open a migrated database
        db.upgrade()
    config.setdefault("gpu_inventory", INVENTORY)
    config.setdefault("discover_gpus", False)
    config.setdefault("capacity_cpus", 2.0)
    config.setdefault("capacity_memory", "8Gi")
    config.setdefault("capacity_disk", "100Gi")
    config.setdefault("scratch_root", str(root / "scratch"))
    return ResourceService(db, root_dir=root / "work", **config)
