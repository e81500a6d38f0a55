"""The ResourceQuota controller's part that tests see: ``status.used``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .. import kube
from ..store import Store, pod_quota_usage


def update_quota_status(store: Store) -> None:
    """ResourceQuota status: what the live pods of its namespace use of each ``hard`` limit."""
    quotas = store.select("resourcequotas")
    if not quotas:
        return
    for quota in quotas:
        ns = quota["metadata"]["namespace"]
        hard = (quota.get("spec") or {}).get("hard") or {}
        used: dict[str, Decimal] = {}
        for pod in store.select("pods", ns):
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            for k, q in pod_quota_usage(pod).items():
                used[k] = used.get(k, Decimal(0)) + q
        status = {
            "hard": dict(hard),
            "used": {
                k: kube.format_quantity(used.get(k, Decimal(0)), k.split(".", 1)[-1]) for k in hard
            },
        }
        if status != quota.get("status"):

            def change(o: dict[str, Any], status: dict[str, Any] = status) -> None:
                o["status"] = status

            store.mutate(
                "resourcequotas", ns, quota["metadata"]["name"], change, subresource="status"
            )
