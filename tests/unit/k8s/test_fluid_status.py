"""Reading Fluid's objects: sizes as Fluid writes them, a DataLoad's phase, why a claim or a
runtime is not ready, and a DataLoad's progress as a warm-up shows it."""

from __future__ import annotations

import pytest

from labrig.dataset_mounts.cluster import ClusterWarmUp
from labrig.k8s.fluid_status import (
    FluidProgress,
    dataload_state,
    dataset_cached,
    not_bound_reason,
    parse_size,
    runtime_not_ready_reason,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [("0.00B", 0), ("1.20MiB", round(1.2 * 2**20)), ("2Gi", 2 * 2**30), ("512", 512)],
)
def test_fluid_sizes_are_read_as_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", None, "lots", "1.2XB"])
def test_a_size_fluid_did_not_fill_in_is_unknown_not_zero(text: object) -> None:
    assert parse_size(text) is None


def test_cache_states_load_phase_and_reasons() -> None:
    assert dataset_cached({"status": {"cacheStates": {"cached": "3.00KiB"}}}) == 3072
    assert dataset_cached({"status": {}}) is None
    load = {"status": {"phase": "Failed", "conditions": [{"message": "no space"}]}}
    assert dataload_state(load) == ("Failed", "no space")
    assert dataload_state({}) == ("Pending", "")
    assert not_bound_reason({"status": {"phase": "Bound"}}, "c", "ml") is None
    assert "does not exist in namespace ml" in str(not_bound_reason(None, "c", "ml"))
    assert "is Pending, not bound" in str(not_bound_reason({}, "c", "ml"))
    runtime = {"status": {"masterPhase": "Ready", "workerPhase": "NotReady", "workerReason": "x"}}
    assert runtime_not_ready_reason(runtime) == "master Ready, worker NotReady: x"
    assert "is Fluid's controller running" in runtime_not_ready_reason({})


def test_a_load_shows_bytes_until_complete_then_files() -> None:
    warm = ClusterWarmUp(id="w", dataset="d", files_total=4, bytes_total=4000)
    progress = FluidProgress(warm)
    progress.start(1000)  # already cached before this load
    progress.update(2500, "Executing")
    shown = warm.as_json()
    assert (shown["bytes_done"], shown["bytes_fetched"], shown["percent"]) == (2500, 1500, 62.5)
    assert shown["files_done"] is None
    assert "not files" in shown["note"]
    progress.update(4096, "Complete")  # Fluid rounds: never more than the version
    shown = warm.as_json()
    assert (shown["bytes_done"], shown["files_done"], shown["note"]) == (4000, 4, None)
