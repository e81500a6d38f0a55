"""A watch on one resource type, fed from the store's history."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .. import kube
from .reads import Reads
from .resource_types import ResourceType


@dataclass
class Watcher:
    """A watch on one resource type, fed from the store's history."""

    store: Reads
    rtype: ResourceType
    namespace: str | None
    labels: list[kube.Requirement]
    fields: list[tuple[str, str, str]]
    rv: int
    pending: list[tuple[str, dict[str, Any], bytes]] = field(default_factory=list)

    def matches(self, obj: dict[str, Any] | None, namespace: str) -> bool:
        if obj is None:
            return False
        if self.namespace and self.rtype.namespaced and namespace != self.namespace:
            return False
        meta = obj.get("metadata") or {}
        if self.labels and not kube.labels_match(self.labels, meta.get("labels")):
            return False
        return not (
            self.fields
            and not kube.fields_match(self.fields, obj, self.store.field_aliases(self.rtype))
        )

    def poll(self, timeout: float) -> list[tuple[str, dict[str, Any], bytes]]:
        """Events after ``self.rv`` for this watch (waits up to ``timeout`` for one)."""
        deadline = time.monotonic() + timeout
        store = self.store
        with store.lock:
            while True:
                changes = store.changes_since(self.rv, strict=False)
                out = []
                for change in changes:
                    self.rv = change.rv
                    if change.rtype.key != self.rtype.key:
                        continue
                    now = (
                        self.matches(change.obj, change.namespace)
                        if change.type != "DELETED"
                        else False
                    )
                    before = (
                        self.matches(change.old, change.namespace)
                        if change.old is not None
                        else False
                    )
                    if change.type == "DELETED":
                        if before:
                            out.append(("DELETED", change.obj, change.tail))
                    elif change.type == "ADDED":
                        if now:
                            out.append(("ADDED", change.obj, change.tail))
                    elif now and before:
                        out.append(("MODIFIED", change.obj, change.tail))
                    elif now:
                        out.append(("ADDED", change.obj, change.tail))
                    elif before:
                        out.append(("DELETED", change.obj, change.tail))
                if out:
                    return out
                left = deadline - time.monotonic()
                if left <= 0 or store.stopped:
                    return []
                store.changed.wait(left)
