"""The base of the fake controllers: the store they write directly, the Events they
record, and the memo that lets a pass skip what has not changed."""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

from .. import kube
from ..store import ApiError, Store
from .common import owner_ref


class Memo:
    """What each controller last reconciled, by key, and the keys due again at a time
    even if nothing changes (a back-off)."""

    def __init__(self) -> None:
        self._signatures: dict[str, Any] = {}
        self._due: dict[str, float] = {}

    def unchanged(self, key: str, obj: dict[str, Any] | None, inputs: list[Any]) -> bool:
        """Controllers are functions of the objects they read: skip the work when none of
        them changed (by uid and resourceVersion) since the last pass."""
        signature = tuple(
            (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) if o else None
            for o in [obj, *inputs]
        )
        due = self._due.get(key)
        if due is not None and time.monotonic() >= due:
            del self._due[key]
        elif self._signatures.get(key) == signature:
            return True
        self._signatures[key] = signature
        return False

    def same_as_last(self, key: str, signature: Any) -> bool:
        """Whether ``key`` was last done with this ``signature`` (which is kept)."""
        same = self._signatures.get(key) == signature
        self._signatures[key] = signature
        return same

    def retry_later(self, key: str, delay: float = 1.0) -> None:
        """Reconcile ``key`` again after ``delay`` even if nothing changes (a back-off)."""
        self._due[key] = time.monotonic() + delay

    def settled(self, key: str) -> None:
        """Drop ``key``'s back-off: its object reached where retrying cannot move it."""
        self._due.pop(key, None)

    def retry_due(self, now: float) -> bool:
        """Whether some key is due again by ``now``."""
        return any(t <= now for t in self._due.values())

    def clear(self) -> None:
        """Forget the signatures (everything is reconciled again); back-offs stay."""
        self._signatures.clear()


class EventRecorder:
    """Records Events as the controllers' event recorders do."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._names: dict[tuple[str, str, str, str], str] = {}  # what it is about -> Event name

    def record(
        self,
        obj: dict[str, Any],
        etype: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str = "",
        action: str = "",
        new_api: bool = False,
    ) -> None:
        """Record an Event about ``obj`` (deduplicated: a repeat bumps count/series)."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message, etype)
        existing = self._names.get(key)
        now = kube.now_iso()
        if existing and self.store.try_get("events", ns, existing, copy_=False) is not None:

            def bump(ev: dict[str, Any]) -> None:
                if new_api:
                    series = ev.get("series") or {"count": 1}
                    ev["series"] = {
                        "count": series.get("count", 1) + 1,
                        "lastObservedTime": kube.now_micro(),
                    }
                else:
                    ev["count"] = ev.get("count", 1) + 1
                    ev["lastTimestamp"] = now

            self.store.mutate("events", ns, existing, bump)
            return
        name = f"{meta['name']}.{secrets.token_hex(8)}"
        ev: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": etype,
            "reportingComponent": component,
            "reportingInstance": f"{component}-{host or 'fake'}" if new_api else host,
        }
        if new_api:
            ev.update(eventTime=kube.now_micro(), action=action, source={})
        else:
            ev.update(
                source={"component": component, **({"host": host} if host else {})},
                firstTimestamp=now,
                lastTimestamp=now,
                count=1,
            )
        self.store.create("events", ev, ns)
        self._names[key] = name


class Controller:
    """A fake controller: it reads and writes the store directly (its writes are not HTTP
    requests), records Events, and skips work whose inputs have not changed."""

    def __init__(self, store: Store, events: EventRecorder, memo: Memo) -> None:
        self.store = store
        self.events = events
        self.memo = memo

    def write_status(
        self,
        rt_key: str,
        obj: dict[str, Any],
        status: dict[str, Any],
        events: list[tuple[str, str, str]],
        component: str,
    ) -> None:
        """Write ``status`` when it changed, then record ``events`` (type, reason, message)."""
        meta = obj["metadata"]
        if status != (obj.get("status") or {}):

            def change(o: dict[str, Any]) -> None:
                o["status"] = status

            self.store.mutate(
                rt_key, meta.get("namespace", ""), meta["name"], change, subresource="status"
            )
        for etype, reason, message in events:
            self.events.record(obj, etype, reason, message, component)

    def delete_quietly(self, rt_key: str, ns: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.store.delete(rt_key, ns, name)

    def create_headless_service(
        self,
        name: str,
        owner: dict[str, Any],
        spec: dict[str, Any],
        labels: dict[str, str] | None = None,
    ) -> None:
        """A Service without a cluster IP in ``owner``'s namespace, owned by it (one that
        exists already, or is refused, is left alone)."""
        ns = owner["metadata"]["namespace"]
        meta: dict[str, Any] = {"name": name, "namespace": ns}
        if labels is not None:
            meta["labels"] = labels
        meta["ownerReferences"] = [owner_ref(owner)]
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"clusterIP": "None", **spec},
        }
        with contextlib.suppress(ApiError):
            self.store.create("services", service, ns)
