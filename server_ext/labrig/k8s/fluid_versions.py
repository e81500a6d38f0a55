"""Which versions of a dataset the cluster keeps, and why: the pinned one, and every older one
that a pod (a notebook's kernel, a job's rank) or an unfinished job still mounts. The others'
Fluid objects (DataLoads, Dataset, runtime; Fluid removes its PVC with the Dataset) or PVCs
are pruned when a newer version has been warmed.

What mounts a claim is read from the cluster itself, not from labrig's records: a pod that
another server started, or a job queued by Kueue whose pods do not exist yet, counts too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .client import POD, PYTORCHJOB, TRAINJOB, ClusterRefused, Kind, Kube
from .fluid_manifests import DATASET_LABEL, VERSION_LABEL, slug

FINISHED_PHASES = {"Succeeded", "Failed"}
FINISHED_CONDITIONS = {"Succeeded", "Failed", "Complete"}
UNUSED = "used by no pod or job: removed when a newer version of the dataset is warmed"


def pod_claims(pod: dict[str, Any]) -> set[str]:
    volumes = ((pod.get("spec") or {}).get("volumes")) or []
    return {
        str(v["persistentVolumeClaim"]["claimName"])
        for v in volumes
        if (v.get("persistentVolumeClaim") or {}).get("claimName")
    }


def job_finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") in FINISHED_CONDITIONS and c.get("status") == "True" for c in conditions
    )


def claims_in_use(
    pods: Iterable[dict[str, Any]], jobs: Iterable[dict[str, Any]], claims: Iterable[str]
) -> dict[str, str]:
    """claim -> what still mounts it ("pod <name>", "PyTorchJob <name>"), for each of
    ``claims`` that a live pod or an unfinished job names."""
    wanted = set(claims)
    users: dict[str, str] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
            continue
        for claim in pod_claims(pod) & wanted:
            users.setdefault(claim, f"pod {pod['metadata']['name']}")
    for job in jobs:
        if job_finished(job):
            continue
        # A job's pod templates sit at kind-specific places: look for the claim anywhere.
        spec = json.dumps(job.get("spec") or {})
        for claim in wanted - users.keys():
            if json.dumps({"claimName": claim})[1:-1] in spec:
                users[claim] = f"{job['kind']} {job['metadata']['name']}"
    return users


@dataclass(frozen=True)
class HeldVersion:
    """One version the cluster holds objects for: its claim, its objects, why it stays."""

    version: str
    claim: str
    objects: list[tuple[Kind, str]]
    kept: str | None  # None: nothing needs it

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "claim": self.claim, "kept": self.kept or UNUSED}


class VersionKeeper:
    """The objects labrig made for each version of a dataset, and who still uses them."""

    def __init__(self, kube: Kube, kinds: list[Kind], claim_of: Any) -> None:
        self.kube = kube
        self.kinds = kinds  # in the order they are deleted
        self.claim_of = claim_of  # (dataset, version) -> claim

    def _items(self, kind: Kind, selector: str | None = None) -> list[dict[str, Any]]:
        """The objects of ``kind``; none where the cluster lacks its CRD (it holds none)."""
        try:
            return list(self.kube.list(kind, selector).get("items") or [])
        except ClusterRefused as err:
            if "is not installed" not in err.message:
                raise
            return []

    def owned(self, dataset: str) -> list[tuple[Kind, dict[str, Any]]]:
        """Every object labrig made for ``dataset`` (any version), in deletion order."""
        selector = f"{DATASET_LABEL}={slug(dataset)}"
        found = []
        for kind in self.kinds:
            for item in self._items(kind, selector):
                # Two catalog names may share a label value: only this one's objects.
                annotations = item["metadata"].get("annotations") or {}
                if annotations.get("labrig.io/dataset-name") == dataset:
                    found.append((kind, item))
        return found

    def _users(self, claims: set[str]) -> dict[str, str]:
        if not claims:
            return {}
        jobs = self._items(PYTORCHJOB) + self._items(TRAINJOB)
        return claims_in_use(self._items(POD), jobs, claims)

    def held(self, dataset: str, pinned: str | None) -> list[HeldVersion]:
        """Each version of ``dataset`` the cluster holds, the pinned one first."""
        by_version: dict[str, list[tuple[Kind, str]]] = {}
        for kind, item in self.owned(dataset):
            version = (item["metadata"].get("labels") or {}).get(VERSION_LABEL, "")
            by_version.setdefault(version, []).append((kind, item["metadata"]["name"]))
        claims = {v: self.claim_of(dataset, v) for v in by_version}
        try:
            users = self._users({c for v, c in claims.items() if v != pinned})
        except ClusterRefused as err:
            why = f"kept: labrig cannot tell which pods use it ({err.message})"
            users = {c: why for c in claims.values()}
        held = [
            HeldVersion(v, claims[v], objects, "pinned" if v == pinned else users.get(claims[v]))
            for v, objects in by_version.items()
        ]
        return sorted(held, key=lambda h: (h.version != pinned, h.version))

    def prune(self, dataset: str, pinned: str) -> list[HeldVersion]:
        """Delete the objects of every version nothing needs; return what is kept."""
        held = self.held(dataset, pinned)
        for version in held:
            if version.kept is None:
                for kind, name in version.objects:
                    self.kube.delete(kind, name, propagation="Background")
        return [h for h in held if h.kept is not None]
