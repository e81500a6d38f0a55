"""A notebook's resources say whether the caller may change them, so the panel tells bob up front
that alice's request is hers instead of failing when he saves: ``may_change`` agrees with what
PUT answers, for no request yet, its owner, another user and an administrator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from identities import ADMIN, as_user_fixture, server_config
from resource_rig import INVENTORY

__all__ = ["as_user_fixture"]

NB = "nb/shared.ipynb"
SMALL = {"profile": "custom", "cpus": "500m", "memory": "1Gi"}


@pytest.fixture
def jp_server_config(labrig_env: Path) -> dict[str, Any]:
    config = server_config(labrig_env)
    config["ResourceService"] = {
        "gpu_inventory": INVENTORY,
        "discover_gpus": False,
        "capacity_cpus": 2,
        "capacity_memory": "8Gi",
    }
    return config


async def test_may_change_says_in_advance_what_saving_would_answer(as_user: Any) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    status, shown = await bob.api(f"resources/{NB}")
    assert (status, shown["owner"], shown["may_change"]) == (200, None, True)  # none saved yet
    assert (await alice.api(f"resources/{NB}", "PUT", SMALL))[0] == 200
    for caller, allowed in ((alice, True), (bob, False), (admin, True)):
        status, shown = await caller.api(f"resources/{NB}")
        assert (status, shown["owner"], shown["may_change"]) == (200, "alice", allowed), caller
        status, saved = await caller.api(f"resources/{NB}", "PUT", {**SMALL, "cpus": 1})
        assert status == (200 if allowed else 403), saved
