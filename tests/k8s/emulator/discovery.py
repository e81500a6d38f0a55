"""Discovery: ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>[/<version>]`` for the
resource types that look installed."""

from __future__ import annotations

from typing import Any

from .. import validation
from ..store import ResourceType, not_found_resource


def discovery(parts: list[str], types: list[ResourceType], url: str) -> dict[str, Any]:
    """The discovery document at ``parts`` of the API served at ``url``."""
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": url.split("//", 1)[1]}
            ],
        }
    if parts == ["api", "v1"]:
        found = _resource_list(types, "", "v1")
        assert found is not None
        return found
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": list(_groups(types).values()),
        }
    if len(parts) == 2 and parts[0] == "apis":
        group = _groups(types).get(parts[1])
        if group is None:
            raise not_found_resource()
        return {"kind": "APIGroup", "apiVersion": "v1", **group}
    if len(parts) == 3 and parts[0] == "apis":
        found = _resource_list(types, parts[1], parts[2])
        if found is None:
            raise not_found_resource()
        return found
    raise not_found_resource()


def _resource_list(types: list[ResourceType], group: str, version: str) -> dict[str, Any] | None:
    resources: list[dict[str, Any]] = []
    for t in types:
        if t.group != group or version not in t.all_versions:
            continue
        entry: dict[str, Any] = {
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": list(t.verbs),
        }
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        if t.custom:
            entry["categories"] = ["all"] if t.kind in ("PyTorchJob", "TrainJob") else []
        entry["storageVersionHash"] = ""
        resources.append(entry)
        for sub in sorted(t.subresources):
            sub_entry: dict[str, Any] = {
                "name": f"{t.plural}/{sub}",
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }
            if sub == "log":
                sub_entry["verbs"] = ["get"]
            elif sub == "binding":
                sub_entry.update(kind="Binding", verbs=["create"])
            elif sub == "eviction":
                sub_entry.update(group="policy", version="v1", kind="Eviction", verbs=["create"])
            elif sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            elif sub == "finalize":
                sub_entry["verbs"] = ["update"]
            resources.append(sub_entry)
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _groups(types: list[ResourceType]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for t in types:
        if not t.group:
            continue
        g = groups.setdefault(t.group, {"name": t.group, "versions": [], "preferredVersion": None})
        for v in t.all_versions:
            gv = {"groupVersion": f"{t.group}/{v}", "version": v}
            if gv not in g["versions"]:
                g["versions"].append(gv)
        if g["preferredVersion"] is None:
            g["preferredVersion"] = {
                "groupVersion": f"{t.group}/{t.version}",
                "version": t.version,
            }
    for g in groups.values():
        g["versions"].sort(key=lambda v: v["version"] != g["preferredVersion"]["version"])
    return groups


def version() -> dict[str, Any]:
    """The ``/version`` document: the pinned Kubernetes version."""
    return {
        "major": "1",
        "minor": validation.K8S_VERSION.split(".")[1],
        "gitVersion": f"v{validation.K8S_VERSION}.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
