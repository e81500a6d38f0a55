"""What the API server does to a built-in kind on the way in: defaults (pods, secrets,
namespaces, services, claims; schema defaults of custom resources) and the ResourceQuota
admission check of pods."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from .. import kube, validation
from .errors import ApiError
from .objects import Entry
from .resource_types import ResourceType


def set_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Fill in what the API server defaults on create and update."""
    if rt.custom:
        try:
            group, version = validation.split_api_version(obj.get("apiVersion", ""))
            schema = validation.crd_schema(group, version, rt.kind)
        except validation.ManifestInvalid:
            return
        validation.apply_defaults(obj, schema)
        return
    if rt.plural == "pods":
        _pod_defaults(obj)
    elif rt.plural == "secrets":
        string_data = obj.pop("stringData", None)
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        obj.setdefault("type", "Opaque")
    elif rt.plural == "namespaces":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        labels = obj["metadata"].setdefault("labels", {})
        labels.setdefault("kubernetes.io/metadata.name", obj["metadata"]["name"])
    elif rt.plural == "services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("clusterIP") is None:
            spec["clusterIP"] = (
                "None" if spec.get("clusterIP") == "None" else spec.get("clusterIP", "10.96.0.10")
            )
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif rt.plural == "persistentvolumeclaims":
        obj.setdefault("status", {"phase": "Pending"})
        spec = obj.setdefault("spec", {})
        spec.setdefault("volumeMode", "Filesystem")


def check_pod_quota(
    objects: dict[str, dict[tuple[str, str], Entry]],
    rt: ResourceType,
    obj: dict[str, Any],
    ns: str,
    name: str,
) -> None:
    """The ResourceQuota admission controller (pods against ``hard`` limits)."""
    if rt.plural != "pods":
        return
    quotas = [e.obj for (qns, _), e in objects.get("resourcequotas", {}).items() if qns == ns]
    if not quotas:
        return
    live = [
        e.obj
        for (pns, _), e in objects["pods"].items()
        if pns == ns and (e.obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        hard = kube.resource_list((quota.get("spec") or {}).get("hard"))
        if not hard:
            continue
        want = pod_quota_usage(obj)
        used: dict[str, Decimal] = {}
        for pod in live:
            for key, q in pod_quota_usage(pod).items():
                used[key] = used.get(key, Decimal(0)) + q
        exceeded = sorted(
            key for key in hard if key in want and used.get(key, Decimal(0)) + want[key] > hard[key]
        )
        missing = sorted(
            key
            for key in hard
            if key.startswith(("requests.", "limits."))
            and key not in want
            and key.split(".", 1)[1] in ("cpu", "memory")
        )
        if missing:
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: failed quota: {quota["metadata"]["name"]}: must '
                "specify " + ",".join(missing),
                {"name": name, "kind": "pods"},
            )
        if exceeded:

            def fmt(values: dict[str, Decimal], keys: list[str] = exceeded) -> str:
                return ",".join(
                    f"{k}={kube.format_quantity(values.get(k, Decimal(0)), k.split('.')[-1])}"
                    for k in keys
                )

            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: exceeded quota: {quota["metadata"]["name"]}, '
                f"requested: {fmt(want)}, used: {fmt(used)}, limited: {fmt(hard)}",
                {"name": name, "kind": "pods"},
            )


def pod_quota_usage(pod: dict[str, Any]) -> dict[str, Decimal]:
    """What a pod counts against a ResourceQuota: ``requests.*``/bare names, ``limits.*``,
    and ``pods``."""
    spec = pod.get("spec") or {}
    usage: dict[str, Decimal] = {"pods": Decimal(1), "count/pods": Decimal(1)}
    for name, q in kube.pod_requests(spec).items():
        usage[f"requests.{name}"] = q
        if name in ("cpu", "memory", "ephemeral-storage"):
            usage[name] = q
    limits: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for name, q in kube.resource_list((container.get("resources") or {}).get("limits")).items():
            limits[name] = limits.get(name, Decimal(0)) + q
    for name, q in limits.items():
        usage[f"limits.{name}"] = q
    return usage


def _container_defaults(container: dict[str, Any]) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    resources = container.setdefault("resources", {})
    limits = resources.get("limits") or {}
    if limits:
        requests = resources.setdefault("requests", {})
        for key, value in limits.items():
            requests.setdefault(key, value)
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def qos_class(spec: dict[str, Any]) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in lim or kube.parse_quantity(
                req.get(name, lim[name])
            ) != kube.parse_quantity(lim[name]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _pod_defaults(pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    for container in spec.get("containers") or []:
        _container_defaults(container)
    for container in spec.get("initContainers") or []:
        _container_defaults(container)
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status["qosClass"] = qos_class(spec)
