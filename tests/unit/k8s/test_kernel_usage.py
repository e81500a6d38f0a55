"""A kernel pod's scratch disk in the local panel's shape: measured, over quota, unmeasured."""

from __future__ import annotations

from labrig.k8s.kernel_usage import disk_usage

GIB = 2**30


def test_measured_inside_the_pod() -> None:
    disk = disk_usage(10 * GIB, GIB, running=True)
    assert (disk["used"], disk["percent"], disk["over_quota"], disk["warning"]) == (
        GIB,
        10.0,
        False,
        None,
    )
    assert disk["state"] == "enforced"
    assert disk["mechanism"] == (
        "ephemeral-storage limit 10 GiB; usage of the scratch directory, measured inside the pod"
    )


def test_over_the_quota_says_what_happens() -> None:
    disk = disk_usage(GIB, 2 * GIB, running=True)
    assert disk["over_quota"] is True
    assert disk["warning"] == (
        "scratch disk uses 2 GiB, over the quota of 1 GiB: the kubelet evicts the kernel's pod"
    )


def test_unmeasured_is_null_and_says_so() -> None:
    disk = disk_usage(GIB, None, running=True)
    assert (disk["used"], disk["percent"], disk["over_quota"]) == (None, None, False)
    assert disk["mechanism"] == (
        "ephemeral-storage limit 1 GiB; scratch usage not measured (the in-pod reporter did not "
        "tell)"
    )
    idle = disk_usage(None, None, running=False)
    assert (idle["state"], idle["mechanism"]) == ("advisory", "no request")
