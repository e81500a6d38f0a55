"""Kueue's scheduler: pending Workloads are admitted against their ClusterQueue's
``nominalQuota`` (priority, then creation time; BestEffortFIFO unless the queue says
StrictFIFO) with Kueue's conditions, messages and events; admission starts the job with
its flavor's nodeLabels; the ClusterQueue and LocalQueue statuses count and sum it up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .. import kube
from .common import (
    CLUSTERQUEUE,
    FLAVOR,
    LOCALQUEUE,
    PYTORCH,
    TRAINJOB,
    WORKLOAD,
    condition,
    is_true,
    set_meta_condition,
)
from .controller import Controller
from .kueue import set_suspend


class KueueScheduler(Controller):
    """Admits the Workloads that fit, in order, and writes the queues' statuses."""

    def reconcile(self) -> None:
        store = self.store
        workloads = store.select(WORKLOAD)
        cqs = {cq["metadata"]["name"]: cq for cq in store.select(CLUSTERQUEUE)}
        flavors = {f["metadata"]["name"]: f for f in store.select(FLAVOR)}
        lqs = {
            (lq["metadata"]["namespace"], lq["metadata"]["name"]): lq
            for lq in store.select(LOCALQUEUE)
        }
        everything = [*workloads, *cqs.values(), *flavors.values(), *lqs.values()]
        if self.memo.unchanged("kueue-schedule", None, everything):
            return
        # usage[cq][flavor][resource]
        usage: dict[str, dict[str, dict[str, Decimal]]] = {name: {} for name in cqs}
        pending: dict[str, list[dict[str, Any]]] = {name: [] for name in cqs}
        counts: dict[str, dict[str, int]] = {
            name: {"pending": 0, "reserving": 0, "admitted": 0} for name in cqs
        }
        lq_counts: dict[tuple[str, str], dict[str, Any]] = {}
        for wl in workloads:
            status = wl.get("status") or {}
            conds = status.get("conditions") or []
            ns = wl["metadata"]["namespace"]
            lq_key = (ns, wl["spec"].get("queueName", ""))
            lq_stat = lq_counts.setdefault(
                lq_key, {"pending": 0, "reserving": 0, "admitted": 0, "usage": {}}
            )
            if is_true(conds, "Finished"):
                continue
            admission = status.get("admission")
            if is_true(conds, "QuotaReserved") and admission:
                cq_name = admission.get("clusterQueue", "")
                if cq_name in usage:
                    for psa in admission.get("podSetAssignments") or []:
                        for res, flavor in (psa.get("flavors") or {}).items():
                            amount = kube.parse_quantity(
                                (psa.get("resourceUsage") or {}).get(res, 0)
                            )
                            per = usage[cq_name].setdefault(flavor, {})
                            per[res] = per.get(res, Decimal(0)) + amount
                            lq_use = lq_stat["usage"].setdefault(flavor, {})
                            lq_use[res] = lq_use.get(res, Decimal(0)) + amount
                    counts[cq_name]["reserving"] += 1
                    counts[cq_name]["admitted"] += 1 if is_true(conds, "Admitted") else 0
                lq_stat["reserving"] += 1
                lq_stat["admitted"] += 1 if is_true(conds, "Admitted") else 0
                continue
            lq_stat["pending"] += 1
            lq = lqs.get(lq_key)
            if lq is None:
                self._workload_pending(wl, "Inadmissible", f"LocalQueue {lq_key[1]} doesn't exist")
                continue
            cq_name = (lq.get("spec") or {}).get("clusterQueue", "")
            if cq_name not in cqs:
                self._workload_pending(wl, "Inadmissible", f"ClusterQueue {cq_name} doesn't exist")
                continue
            missing = [
                f["name"]
                for rg in (cqs[cq_name].get("spec") or {}).get("resourceGroups") or []
                for f in rg.get("flavors") or []
                if f["name"] not in flavors
            ]
            if missing:
                self._workload_pending(wl, "Inadmissible", f"ClusterQueue {cq_name} is inactive")
                continue
            pending[cq_name].append(wl)
            counts[cq_name]["pending"] += 1
        for cq_name, queue in pending.items():
            cq = cqs[cq_name]
            strict = (cq.get("spec") or {}).get("queueingStrategy") == "StrictFIFO"
            queue.sort(
                key=lambda w: (
                    -int(w["spec"].get("priority") or 0),
                    w["metadata"]["creationTimestamp"],
                    w["metadata"]["name"],
                )
            )
            for wl in queue:
                assignment, message = self._assign_flavors(cq, wl, usage[cq_name])
                if assignment is None:
                    self._workload_pending(wl, "Pending", message)
                    if strict:
                        break
                    continue
                for psa in assignment:
                    for res, flavor in psa["flavors"].items():
                        per = usage[cq_name].setdefault(flavor, {})
                        per[res] = per.get(res, Decimal(0)) + kube.parse_quantity(
                            psa["resourceUsage"][res]
                        )
                counts[cq_name]["pending"] -= 1
                counts[cq_name]["reserving"] += 1
                counts[cq_name]["admitted"] += 1
                self._admit_workload(wl, cq_name, assignment, flavors)
        for cq_name, cq in cqs.items():
            self._cq_status(cq, counts[cq_name], usage[cq_name])
        for key, lq in lqs.items():
            self._lq_status(
                lq, lq_counts.get(key) or {"pending": 0, "reserving": 0, "admitted": 0, "usage": {}}
            )

    def _assign_flavors(
        self, cq: dict[str, Any], wl: dict[str, Any], usage: dict[str, dict[str, Decimal]]
    ) -> tuple[list[dict[str, Any]] | None, str]:
        """Kueue's flavor assigner without preemption or borrowing: per pod set, per
        resource group, the first flavor where every covered resource fits the unused
        nominal quota; the first pod set that does not fit gives the message."""
        groups = (cq.get("spec") or {}).get("resourceGroups") or []
        assumed: dict[tuple[str, str], Decimal] = {}
        assignments: list[dict[str, Any]] = []
        for ps in wl["spec"].get("podSets") or []:
            count = int(ps.get("count", 1))
            per_pod = kube.pod_requests((ps.get("template") or {}).get("spec") or {})
            requests = {res: q * count for res, q in per_pod.items()}
            flavors_for: dict[str, str] = {}
            failure = ""
            for res in sorted(requests):
                if res in flavors_for:
                    continue
                group = next((g for g in groups if res in (g.get("coveredResources") or [])), None)
                if group is None:
                    failure = f"resource {res} unavailable in ClusterQueue"
                    break
                covered = [r for r in group.get("coveredResources") or [] if r in requests]
                reasons: list[str] = []
                chosen = None
                for flavor in group.get("flavors") or []:
                    fname = flavor["name"]
                    quotas = {
                        r["name"]: kube.parse_quantity(r["nominalQuota"])
                        for r in flavor.get("resources") or []
                    }
                    fits = True
                    for r in covered:
                        nominal = quotas.get(r, Decimal(0))
                        used = usage.get(fname, {}).get(r, Decimal(0))
                        before = assumed.get((fname, r), Decimal(0))
                        val = before + requests[r]
                        if val > nominal:
                            fits = False
                            reasons.append(
                                f"insufficient quota for {r} in flavor {fname}, previously "
                                "considered podsets "
                                f"requests ({kube.format_quantity(before, r)}) + current podset "
                                "request "
                                f"({kube.format_quantity(requests[r], r)}) > maximum capacity "
                                f"({kube.format_quantity(nominal, r)})"
                            )
                        elif used + val > nominal:
                            fits = False
                            reasons.append(
                                f"insufficient unused quota for {r} in flavor {fname}, "
                                f"{kube.format_quantity(used + val - nominal, r)} more needed"
                            )
                    if fits:
                        chosen = fname
                        break
                if chosen is None:
                    failure = ", ".join(sorted(reasons))
                    break
                for r in covered:
                    flavors_for[r] = chosen
            if failure:
                return None, f"couldn't assign flavors to pod set {ps['name']}: {failure}"
            for r, fname in flavors_for.items():
                assumed[(fname, r)] = assumed.get((fname, r), Decimal(0)) + requests[r]
            assignments.append(
                {
                    "name": ps["name"],
                    "flavors": dict(sorted(flavors_for.items())),
                    "resourceUsage": {
                        r: kube.format_quantity(requests[r], r) for r in sorted(flavors_for)
                    },
                    "count": count,
                }
            )
        return assignments, ""

    def _workload_pending(self, wl: dict[str, Any], reason: str, message: str) -> None:
        def change(obj: dict[str, Any]) -> None:
            conds = obj.setdefault("status", {}).setdefault("conditions", [])
            set_meta_condition(
                conds, "QuotaReserved", "False", reason, message, obj["metadata"].get("generation")
            )

        before = condition((wl.get("status") or {}).get("conditions") or [], "QuotaReserved")
        if before and (before.get("status"), before.get("reason"), before.get("message")) == (
            "False",
            reason,
            message,
        ):
            return
        stored = self.store.mutate(
            WORKLOAD,
            wl["metadata"]["namespace"],
            wl["metadata"]["name"],
            change,
            subresource="status",
        )
        if stored is not None and (before is None or before.get("message") != message):
            self.events.record(
                stored, "Warning", reason, message, "kueue-admission", new_api=True, action=reason
            )

    def _admit_workload(
        self,
        wl: dict[str, Any],
        cq_name: str,
        assignment: list[dict[str, Any]],
        flavors: dict[str, dict[str, Any]],
    ) -> None:
        def change(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["admission"] = {"clusterQueue": cq_name, "podSetAssignments": assignment}
            conds = status.setdefault("conditions", [])
            gen = obj["metadata"].get("generation")
            set_meta_condition(
                conds,
                "QuotaReserved",
                "True",
                "QuotaReserved",
                f"Quota reserved in ClusterQueue {cq_name}",
                gen,
            )
            set_meta_condition(
                conds, "Admitted", "True", "Admitted", "The workload is admitted", gen
            )

        ns, name = wl["metadata"]["namespace"], wl["metadata"]["name"]
        stored = self.store.mutate(WORKLOAD, ns, name, change, subresource="status")
        if stored is None:
            return
        self.events.record(
            stored,
            "Normal",
            "QuotaReserved",
            f"Quota reserved in ClusterQueue {cq_name}, wait time since queued was 0s",
            "kueue-admission",
            new_api=True,
            action="QuotaReserved",
        )
        self.events.record(
            stored,
            "Normal",
            "Admitted",
            f"Admitted by ClusterQueue {cq_name}, wait time since reservation was 0s",
            "kueue-admission",
            new_api=True,
            action="Admitted",
        )
        owner = next(
            (r for r in wl["metadata"].get("ownerReferences") or [] if r.get("controller")), None
        )
        if owner is None:
            return
        rt_key = PYTORCH if owner["kind"] == "PyTorchJob" else TRAINJOB
        job = self.store.try_get(rt_key, ns, owner["name"], copy_=False)
        if job is None or job["metadata"]["uid"] != owner["uid"]:
            return
        labels: dict[str, str] = {}
        for psa in assignment:
            for flavor_name in set(psa["flavors"].values()):
                labels.update(
                    ((flavors.get(flavor_name) or {}).get("spec") or {}).get("nodeLabels") or {}
                )
        set_suspend(self.store, rt_key, job, False, labels or None)
        self.events.record(
            job, "Normal", "Started", f"Admitted by clusterQueue {cq_name}", "kueue-controller"
        )

    def _cq_status(
        self, cq: dict[str, Any], counts: dict[str, int], usage: dict[str, dict[str, Decimal]]
    ) -> None:
        groups = (cq.get("spec") or {}).get("resourceGroups") or []
        flavor_usage = []
        for group in groups:
            for flavor in group.get("flavors") or []:
                resources = []
                for r in flavor.get("resources") or []:
                    total = usage.get(flavor["name"], {}).get(r["name"], Decimal(0))
                    resources.append(
                        {
                            "name": r["name"],
                            "total": kube.format_quantity(total, r["name"]),
                            "borrowed": "0",
                        }
                    )
                flavor_usage.append({"name": flavor["name"], "resources": resources})

        def change(obj: dict[str, Any]) -> None:
            conds = _write_usage(obj, counts, flavor_usage)
            set_meta_condition(
                conds,
                "Active",
                "True",
                "Ready",
                "Can admit new workloads",
                obj["metadata"].get("generation"),
            )

        self.store.mutate(CLUSTERQUEUE, "", cq["metadata"]["name"], change, subresource="status")

    def _lq_status(self, lq: dict[str, Any], stat: dict[str, Any]) -> None:
        cq_name = (lq.get("spec") or {}).get("clusterQueue", "")
        cq = self.store.try_get(CLUSTERQUEUE, "", cq_name, copy_=False)
        flavor_usage = []
        if cq is not None:
            for group in (cq.get("spec") or {}).get("resourceGroups") or []:
                for flavor in group.get("flavors") or []:
                    resources = [
                        {
                            "name": r["name"],
                            "total": kube.format_quantity(
                                stat["usage"].get(flavor["name"], {}).get(r["name"], Decimal(0)),
                                r["name"],
                            ),
                        }
                        for r in flavor.get("resources") or []
                    ]
                    flavor_usage.append({"name": flavor["name"], "resources": resources})

        def change(obj: dict[str, Any]) -> None:
            conds = _write_usage(obj, stat, flavor_usage)
            if cq is None:
                set_meta_condition(
                    conds,
                    "Active",
                    "False",
                    "ClusterQueueDoesNotExist",
                    "Can't submit new workloads to clusterQueue",
                    obj["metadata"].get("generation"),
                )
            else:
                set_meta_condition(
                    conds,
                    "Active",
                    "True",
                    "Ready",
                    "Can submit new workloads to localQueue",
                    obj["metadata"].get("generation"),
                )

        self.store.mutate(
            LOCALQUEUE,
            lq["metadata"]["namespace"],
            lq["metadata"]["name"],
            change,
            subresource="status",
        )


def _write_usage(
    queue: dict[str, Any], counts: dict[str, Any], flavor_usage: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A queue's workload counts and flavor usage, into its status; returns its conditions."""
    status = queue.setdefault("status", {})
    status["pendingWorkloads"] = counts["pending"]
    status["reservingWorkloads"] = counts["reserving"]
    status["admittedWorkloads"] = counts["admitted"]
    status["flavorsReservation"] = flavor_usage
    status["flavorsUsage"] = kube.clone(flavor_usage)
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    return conditions
