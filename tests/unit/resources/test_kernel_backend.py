"""The kernel backend seam: a backend must implement every operation; the local one."""

from __future__ import annotations

import time

import pytest

from labrig.resources.backend import KernelBackend, KernelWait, LocalKernelBackend


def test_a_backend_missing_an_operation_cannot_be_made() -> None:
    class Partial(KernelBackend):
        def capabilities(self) -> dict[str, str]:
            return {}

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


def test_local_backend_starts_kernels_with_the_local_provisioner() -> None:
    backend = LocalKernelBackend()
    assert backend.provisioner_name == "labrig-local-provisioner"
    assert backend.waiting("nb.ipynb") is None
    assert "kernels.cgroups" in backend.capabilities()


def test_a_wait_says_how_long_and_how_long_is_left() -> None:
    wait = KernelWait("k1", "image is being pulled", time.time() - 3.0, gives_up_in=57.0)
    shown = wait.json()
    assert shown["reason"] == "image is being pulled"
    assert 2.9 <= shown["waiting_for"] < 10
    assert shown["gives_up_in"] == 57.0
