"""The default scheduler: places pending pods on nodes by requests (cpu, memory, extended
resources), nodeSelector/required node affinity and taints/tolerations; otherwise
``PodScheduled=False`` ``Unschedulable`` with the scheduler's message and a
``FailedScheduling`` event."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .. import kube
from ..store import Store
from .common import pod_condition_is, set_pod_condition
from .controller import EventRecorder


class Scheduler:
    """Binds each schedulable pod to the first node (by name) that fits it."""

    def __init__(self, store: Store, events: EventRecorder) -> None:
        self.store = store
        self.events = events

    def reconcile(self) -> None:
        store = self.store
        nodes = store.select("nodes")
        pods = store.select("pods")
        used: dict[str, dict[str, Decimal]] = {n["metadata"]["name"]: {} for n in nodes}
        waiting = []
        for pod in pods:
            spec = pod.get("spec") or {}
            phase = (pod.get("status") or {}).get("phase")
            node = spec.get("nodeName")
            if node:
                if phase not in ("Succeeded", "Failed") and node in used:
                    for res, q in kube.pod_requests(spec).items():
                        used[node][res] = used[node].get(res, Decimal(0)) + q
                    used[node]["pods"] = used[node].get("pods", Decimal(0)) + 1
            elif (
                phase == "Pending"
                and spec.get("schedulerName", "default-scheduler") == "default-scheduler"
            ):
                waiting.append(pod)
        waiting.sort(
            key=lambda p: (
                -int((p.get("spec") or {}).get("priority") or 0),
                p["metadata"]["creationTimestamp"],
                p["metadata"]["name"],
            )
        )
        for pod in waiting:
            spec = pod.get("spec") or {}
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            if spec.get("schedulingGates"):
                self._pod_condition(
                    pod,
                    "PodScheduled",
                    "False",
                    "SchedulingGated",
                    "Scheduling is blocked due to non-empty scheduling gates",
                )
                continue
            requests = kube.pod_requests(spec)
            reasons: dict[str, int] = {}
            preemption: dict[str, int] = {}
            chosen = None
            for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
                node_reasons, helpful = _node_fit(
                    node, spec, requests, used[node["metadata"]["name"]]
                )
                if not node_reasons:
                    chosen = node
                    break
                for r in node_reasons:
                    reasons[r] = reasons.get(r, 0) + 1
                key = (
                    "No preemption victims found for incoming pod"
                    if helpful
                    else "Preemption is not helpful for scheduling"
                )
                preemption[key] = preemption.get(key, 0) + 1
            if chosen is None:
                total = len(nodes)
                if total == 0:
                    message = "no nodes available to schedule pods"
                else:
                    parts = sorted(f"{n} {r}" for r, n in reasons.items())
                    pparts = sorted(f"{n} {r}" for r, n in preemption.items())
                    message = (
                        f"0/{total} nodes are available: {', '.join(parts)}. "
                        f"preemption: 0/{total} nodes are available: {', '.join(pparts)}."
                    )
                changed = self._pod_condition(
                    pod, "PodScheduled", "False", "Unschedulable", message
                )
                if changed:
                    self.events.record(
                        pod,
                        "Warning",
                        "FailedScheduling",
                        message,
                        "default-scheduler",
                        new_api=True,
                        action="Scheduling",
                    )
                continue
            node_name = chosen["metadata"]["name"]
            for res, q in requests.items():
                used[node_name][res] = used[node_name].get(res, Decimal(0)) + q

            def bind(obj: dict[str, Any], node_name: str = node_name) -> None:
                obj["spec"]["nodeName"] = node_name
                conds = obj.setdefault("status", {}).setdefault("conditions", [])
                set_pod_condition(conds, "PodScheduled", "True", "", "")

            bound = store.mutate("pods", ns, name, bind, subresource="all")
            if bound is not None:
                self.events.record(
                    bound,
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {ns}/{name} to {node_name}",
                    "default-scheduler",
                    host=node_name,
                    new_api=True,
                    action="Binding",
                )

    def _pod_condition(
        self, pod: dict[str, Any], ctype: str, status: str, reason: str, message: str
    ) -> bool:
        conds = (pod.get("status") or {}).get("conditions") or []
        if pod_condition_is(conds, ctype, status, reason, message):
            return False

        def change(obj: dict[str, Any]) -> None:
            set_pod_condition(
                obj.setdefault("status", {}).setdefault("conditions", []),
                ctype,
                status,
                reason,
                message,
            )

        self.store.mutate(
            "pods",
            pod["metadata"]["namespace"],
            pod["metadata"]["name"],
            change,
            subresource="status",
        )
        return True


def _node_fit(
    node: dict[str, Any],
    spec: dict[str, Any],
    requests: dict[str, Decimal],
    used: dict[str, Decimal],
) -> tuple[list[str], bool]:
    """(reasons the pod does not fit this node, whether preemption could help)."""
    nspec = node.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    if nspec.get("unschedulable"):
        return ["node(s) were unschedulable"], False
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_ok(spec, labels):
        return ["node(s) didn't match Pod's node affinity/selector"], False
    for taint in nspec.get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in spec.get("tolerations") or []):
            shown = (
                f"{taint.get('key')}: {taint.get('value')}"
                if taint.get("value")
                else taint.get("key")
            )
            return [f"node(s) had untolerated taint {{{shown}}}"], False
    allocatable = kube.resource_list((node.get("status") or {}).get("allocatable"))
    reasons = []
    if used.get("pods", Decimal(0)) + 1 > allocatable.get("pods", Decimal(110)):
        reasons.append("Too many pods")
    for res, q in sorted(requests.items()):
        if q <= 0:
            continue
        free = allocatable.get(res, Decimal(0)) - used.get(res, Decimal(0))
        if q > free:
            reasons.append(f"Insufficient {res}")
    return reasons, True


def _tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get(
        "value", ""
    )


def _affinity_ok(spec: dict[str, Any], labels: dict[str, str]) -> bool:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    for term in terms:
        ok = True
        for expr in term.get("matchExpressions") or []:
            key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
            has = key in labels
            if (
                (op == "In" and labels.get(key) not in values)
                or (op == "NotIn" and has and labels.get(key) in values)
                or (op == "Exists" and not has)
                or (op == "DoesNotExist" and has)
            ):
                ok = False
            elif op in ("Gt", "Lt"):
                try:
                    value = int(labels.get(key, ""))
                    bound = int(values[0])
                except (ValueError, IndexError):
                    ok = False
                else:
                    ok = ok and (value > bound if op == "Gt" else value < bound)
        if ok:
            return True
    return False
