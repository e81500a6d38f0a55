"""What the resources tests share beyond fixtures: the two-GPU test inventory and a
ResourceService wired as the provisioner finds it. (A module of its own: ``from conftest
import`` picks whichever conftest was imported last.)"""

from __future__ import annotations

from pathlib import Path

from labrig.resources import runtime
from labrig.resources.service import ResourceService
from labrig.store import Database

INVENTORY = [
    {"uuid": "GPU-11111111-aaaa-bbbb-cccc-000000000000", "model": "Test-GPU-24GB"},
    {"uuid": "GPU-22222222-aaaa-bbbb-cccc-000000000000", "model": "Test-GPU-24GB"},
]


def provisioner_service(data_dir: Path, root: Path, **config: object) -> ResourceService:
    db = Database(f"sqlite:///{data_dir / 'labrig.db'}")
    db.upgrade()
    root.mkdir(parents=True, exist_ok=True)
    service = ResourceService(
        db,
        root_dir=root,
        gpu_inventory=INVENTORY,
        discover_gpus=False,
        scratch_root=str(data_dir / "scratch"),
        **config,
    )
    runtime.set_current(service)
    return service
