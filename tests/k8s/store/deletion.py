"""Deletion with ``propagationPolicy`` semantics: finalizers, the garbage collector's
cascade (background, foreground, orphan), namespaces and delete-collection."""

from __future__ import annotations

from typing import Any

from .. import kube
from .errors import ApiError
from .objects import AdmissionRequest
from .reads import Reads
from .resource_types import ResourceType


class Deletion(Reads):
    """Deletes, and the garbage collector that follows owner references."""

    def delete(
        self,
        rtype: ResourceType | str,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        grace_period: int | None = None,
        internal: bool = True,
    ) -> tuple[dict[str, Any], bool]:
        """Delete with ``propagationPolicy`` semantics. Returns (response body, gone), where
        the body is the object (pods, or still present because of finalizers / foreground)
        or a ``Status`` of success."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        ns = namespace if rt.namespaced else ""
        policy = propagation or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise ApiError(
                422,
                "Invalid",
                'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{policy}": supported values: "Foreground", "Background", "Orphan"',
            )
        with self.lock:
            entry = self._entry(rt, ns, name)
            if entry is None:
                raise self.not_found(rt, name)
            old = entry.obj
            if preconditions:
                if preconditions.get("uid") and preconditions["uid"] != old["metadata"]["uid"]:
                    raise ApiError(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {rt.key} "{name}": Precondition failed: '
                        f"UID in precondition: {preconditions['uid']}, UID in object meta: "
                        f"{old['metadata']['uid']}",
                        {"name": name, "group": rt.group, "kind": rt.plural},
                    )
                if (
                    preconditions.get("resourceVersion")
                    and preconditions["resourceVersion"] != old["metadata"]["resourceVersion"]
                ):
                    raise ApiError(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {rt.key} "{name}": Precondition failed: '
                        f"ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                        f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}",
                        {"name": name, "group": rt.group, "kind": rt.plural},
                    )
            self._admit(AdmissionRequest("DELETE", rt, ns, name, None, old, internal=internal))
            return self._delete(rt, ns, name, policy, grace_period)

    def _status_success(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": obj["metadata"]["name"],
                "group": rt.group,
                "kind": rt.plural,
                "uid": obj["metadata"]["uid"],
            },
        }

    def _delete(
        self, rt: ResourceType, ns: str, name: str, policy: str, grace_period: int | None
    ) -> tuple[dict[str, Any], bool]:
        entry = self._entry(rt, ns, name)
        assert entry is not None
        old = entry.obj
        uid = old["metadata"]["uid"]
        finalizers = [
            f for f in old["metadata"].get("finalizers") or [] if f != "foregroundDeletion"
        ]
        already = bool(old["metadata"].get("deletionTimestamp"))
        if rt.plural == "namespaces":
            self._delete_namespace_contents(name)
        if policy == "Orphan":
            for dep_uid in list(self._dependents.get(uid, ())):
                self._orphan(dep_uid, uid)
        if policy == "Foreground" and self._dependents.get(uid):
            marked = kube.clone(old)
            marked["metadata"].setdefault("deletionTimestamp", kube.now_iso())
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            fins = list(marked["metadata"].get("finalizers") or [])
            if "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            marked["metadata"]["finalizers"] = fins
            response = kube.clone(self._commit(rt, (ns, name), marked, "MODIFIED", old))
            # The garbage collector deletes the dependents first (blocking the owner) ...
            for dep_uid in list(self._dependents.get(uid, ())):
                self._gc_dependent(dep_uid, uid, "Foreground")
            # ... then removes the foregroundDeletion finalizer.
            current = self._entry(rt, ns, name)
            if current is None:
                return response, True
            after = kube.clone(current.obj)
            after["metadata"]["finalizers"] = [
                f for f in after["metadata"].get("finalizers") or [] if f != "foregroundDeletion"
            ]
            if after["metadata"]["finalizers"]:
                self._commit(rt, (ns, name), after, "MODIFIED", current.obj)
                return response, False
            after["metadata"].pop("finalizers")
            self._commit(rt, (ns, name), None, "DELETED", after)
            self._dependents.pop(uid, None)
            return response, False
        if finalizers:
            if already:
                return kube.clone(old), False
            marked = kube.clone(old)
            marked["metadata"]["deletionTimestamp"] = kube.now_iso()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            stored = self._commit(rt, (ns, name), marked, "MODIFIED", old)
            if policy == "Background":
                for dep_uid in list(self._dependents.get(uid, ())):
                    self._gc_dependent(dep_uid, uid, "Background")
            return kube.clone(stored), False
        final = kube.clone(old)
        if rt.plural == "pods":
            grace = grace_period
            if grace is None:
                grace = (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            final["metadata"]["deletionTimestamp"] = kube.now_iso()
            final["metadata"]["deletionGracePeriodSeconds"] = grace
        gone = self._commit(rt, (ns, name), None, "DELETED", final)
        if policy in ("Background", "Foreground"):
            for dep_uid in list(self._dependents.get(uid, ())):
                self._gc_dependent(dep_uid, uid, "Background")
        self._dependents.pop(uid, None)
        if rt.plural == "pods":
            return kube.clone(gone), True
        return self._status_success(rt, old), True

    def _gc_dependent(self, dep_uid: str, owner_uid: str, policy: str) -> None:
        """The garbage collector: delete a dependent whose owners are all gone (or going)."""
        where = self._by_uid.get(dep_uid)
        if where is None:
            return
        rt = self.types[where[0]]
        entry = self._objects[where[0]].get((where[1], where[2]))
        if entry is None:
            return
        for ref in entry.obj["metadata"].get("ownerReferences") or []:
            other = ref.get("uid")
            if other == owner_uid:
                continue
            owner_where = self._by_uid.get(other)
            if owner_where is not None:
                owner = self._objects[owner_where[0]].get((owner_where[1], owner_where[2]))
                if owner is not None and not owner.obj["metadata"].get("deletionTimestamp"):
                    return  # another live owner keeps it
        self._delete(rt, where[1], where[2], policy, None)

    def _orphan(self, dep_uid: str, owner_uid: str) -> None:
        where = self._by_uid.get(dep_uid)
        if where is None:
            return
        entry = self._objects[where[0]].get((where[1], where[2]))
        if entry is None:
            return
        new = kube.clone(entry.obj)
        refs = [
            r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        self._commit(self.types[where[0]], (where[1], where[2]), new, "MODIFIED", entry.obj)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for key, rt in self.types.items():
            if not rt.namespaced:
                continue
            for ns, name in sorted(self._objects[key]):
                if ns == namespace and (ns, name) in self._objects[key]:
                    entry = self._objects[key][(ns, name)]
                    final = kube.clone(entry.obj)
                    final["metadata"].pop("finalizers", None)
                    self._commit(rt, (ns, name), None, "DELETED", final)

    def delete_collection(
        self,
        rtype: ResourceType | str,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation: str | None = None,
        *,
        internal: bool = True,
    ) -> list[dict[str, Any]]:
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        with self.lock:
            items, _ = self.list_objects(rt, namespace, label_selector, field_selector, copy_=False)
            out = []
            for obj in items:
                meta = obj["metadata"]
                try:
                    body, _ = self.delete(
                        rt,
                        meta.get("namespace", ""),
                        meta["name"],
                        propagation=propagation,
                        internal=internal,
                    )
                except ApiError as exc:
                    if exc.code == 404:
                        continue
                    raise
                out.append(obj if body.get("kind") == "Status" else body)
            return out
