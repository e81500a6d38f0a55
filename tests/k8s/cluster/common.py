"""What the fake controllers share: the resource keys they read and write, conditions
(``metav1.Condition`` and the pod's), owner references, and env lists."""

from __future__ import annotations

from typing import Any

from .. import kube
from ..store import ApiError

# Resource keys (``plural.group``) of the kinds the controllers play with.
PYTORCH = "pytorchjobs.kubeflow.org"
TRAINJOB = "trainjobs.trainer.kubeflow.org"
JOBSET = "jobsets.jobset.x-k8s.io"
WORKLOAD = "workloads.kueue.x-k8s.io"
CLUSTERQUEUE = "clusterqueues.kueue.x-k8s.io"
LOCALQUEUE = "localqueues.kueue.x-k8s.io"
FLAVOR = "resourceflavors.kueue.x-k8s.io"
CTR = "clustertrainingruntimes.trainer.kubeflow.org"
TR = "trainingruntimes.trainer.kubeflow.org"

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def condition(conditions: list[dict[str, Any]], ctype: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == ctype), None)


def is_true(conditions: list[dict[str, Any]] | None, ctype: str) -> bool:
    cond = condition(conditions or [], ctype)
    return bool(cond and cond.get("status") == "True")


def set_meta_condition(
    conditions: list[dict[str, Any]],
    ctype: str,
    status: str,
    reason: str,
    message: str,
    generation: int | None = None,
) -> bool:
    """metav1.Condition semantics (meta.SetStatusCondition): returns whether it changed."""
    cur = condition(conditions, ctype)
    if (
        cur
        and cur.get("status") == status
        and cur.get("reason") == reason
        and cur.get("message") == message
    ):
        return False
    new: dict[str, Any] = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": cur["lastTransitionTime"]
        if cur and cur.get("status") == status
        else kube.now_iso(),
    }
    if generation is not None:
        new["observedGeneration"] = generation
    if cur:
        conditions[conditions.index(cur)] = new
    else:
        conditions.append(new)
    return True


def pod_condition_is(
    conds: list[dict[str, Any]], ctype: str, status: str, reason: str, message: str
) -> bool:
    """Whether a pod's condition already says this (its reason and message default to "")."""
    cur = condition(conds, ctype)
    return bool(
        cur
        and cur.get("status") == status
        and cur.get("reason", "") == reason
        and cur.get("message", "") == message
    )


def set_pod_condition(
    conds: list[dict[str, Any]], ctype: str, status: str, reason: str, message: str
) -> None:
    if pod_condition_is(conds, ctype, status, reason, message):
        return
    cur = condition(conds, ctype)
    new: dict[str, Any] = {
        "type": ctype,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": kube.now_iso(),
    }
    if cur and cur.get("status") == status:
        new["lastTransitionTime"] = cur.get("lastTransitionTime")
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    new = {k: v for k, v in new.items() if v is not None}
    if cur:
        conds[conds.index(cur)] = new
    else:
        conds.append(new)


def owner_ref(obj: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: dict[str, Any]) -> str:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return ""


def upsert_env(env: list[dict[str, Any]], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = list(env)
    for item in items:
        for i, existing in enumerate(out):
            if existing.get("name") == item["name"]:
                out[i] = item
                break
        else:
            out.append(item)
    return out


def deny(webhook: str, errors: list[str]) -> ApiError:
    """A validating webhook's refusal, as the API server words it."""
    text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return ApiError(403, "Forbidden", f'admission webhook "{webhook}" denied the request: {text}')
