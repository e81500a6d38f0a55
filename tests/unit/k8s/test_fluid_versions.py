"""Which claims of older dataset versions are still mounted: by a pod that has not ended, or
by a job that has not finished (a queued job has no pods yet)."""

from __future__ import annotations

from typing import Any

from labrig.k8s.fluid_versions import UNUSED, HeldVersion, claims_in_use

OLD, OLDER = "labrig-ds-digits-1111111111111111", "labrig-ds-digits-2222222222222222"


def pod(name: str, claim: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]},
        "status": {"phase": phase},
    }


def pytorchjob(name: str, claim: str, finished: str | None = None) -> dict[str, Any]:
    template = {"spec": {"volumes": [{"persistentVolumeClaim": {"claimName": claim}}]}}
    conditions = [{"type": finished, "status": "True"}] if finished else []
    return {
        "kind": "PyTorchJob",
        "metadata": {"name": name},
        "spec": {"pytorchReplicaSpecs": {"Master": {"template": template}}},
        "status": {"conditions": [{"type": "Created", "status": "True"}, *conditions]},
    }


def test_a_live_pod_or_an_unfinished_job_keeps_its_claim() -> None:
    assert claims_in_use([pod("kernel-a", OLD)], [], [OLD, OLDER]) == {OLD: "pod kernel-a"}
    queued = pytorchjob("train-b", OLDER)
    assert claims_in_use([], [queued], [OLD, OLDER]) == {OLDER: "PyTorchJob train-b"}


def test_ended_pods_finished_jobs_and_other_claims_keep_nothing() -> None:
    pods = [pod("done", OLD, "Succeeded"), pod("crashed", OLD, "Failed"), pod("x", "other")]
    jobs = [pytorchjob("ok", OLD, "Succeeded"), pytorchjob("bad", OLDER, "Failed")]
    assert claims_in_use(pods, jobs, [OLD, OLDER]) == {}
    # A claim whose name another contains is not the same claim.
    assert claims_in_use([], [pytorchjob("j", OLD + "0")], [OLD]) == {}


def test_an_unneeded_version_says_when_it_goes() -> None:
    held = HeldVersion("1111111111111111", OLD, [], None)
    assert held.as_json() == {"version": "1111111111111111", "claim": OLD, "kept": UNUSED}
