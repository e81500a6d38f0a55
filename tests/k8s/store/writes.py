"""Writes: create and update (PUT) as the API server does them: names, defaults,
admission, validation and the status-subresource rules."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from .. import kube, validation
from .admission import check_pod_quota, set_defaults
from .errors import ApiError, not_found_resource
from .objects import AdmissionRequest, Objects
from .resource_types import ResourceType

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class Writes(Objects):
    """Create and update."""

    def _validate(
        self,
        rtype: ResourceType,
        obj: dict[str, Any],
        name: str,
        old: dict[str, Any] | None = None,
        internal: bool = False,
    ) -> None:
        """Validate a write. When only metadata and status changed (the rest was valid
        before), only those are checked: same answer, a fraction of the cost. Writes of
        the fake controllers are checked only with ``validate_internal``."""
        if not self.validate_writes or (internal and not self.validate_internal):
            return
        try:
            if rtype.custom and old is not None and self._spec_of(obj) == self._spec_of(old):
                errors = validation.custom_errors(obj, only_status=True)
            elif rtype.custom:
                errors = validation.custom_errors(obj)
            else:
                errors = validation.core_errors(obj)
        except validation.ManifestInvalid as exc:
            errors = exc.errors
        if errors:
            raise self.invalid(rtype, name, errors)

    def create(
        self,
        rtype: ResourceType | str,
        obj: dict[str, Any],
        namespace: str | None = None,
        *,
        internal: bool = True,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Create an object as the API server does (defaults, validation, admission).
        Returns the stored object (a copy)."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        obj = validation.prune_nulls(obj)
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request must be an object")
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        ns = namespace if namespace is not None else meta.get("namespace", "")
        if rt.namespaced:
            if not ns:
                raise ApiError(400, "BadRequest", "the namespace of the object is required")
            if meta.get("namespace") and meta["namespace"] != ns:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request",
                )
            meta["namespace"] = ns
        else:
            ns = ""
            meta.pop("namespace", None)
        with self.lock:
            name = meta.get("name") or ""
            if not name:
                prefix = meta.get("generateName")
                if not prefix:
                    raise self.invalid(
                        rt,
                        "",
                        [
                            validation.FieldError(
                                "metadata.name",
                                "Required value",
                                "name or generateName is required",
                            )
                        ],
                    )
                for _ in range(100):
                    name = prefix + "".join(random.choice(_GENERATE_CHARS) for _ in range(5))
                    if (ns, name) not in self._objects[rt.key]:
                        break
                meta["name"] = name
            if rt.namespaced and not self._namespace_exists(ns):
                raise ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{ns}" not found',
                    {"name": ns, "kind": "namespaces"},
                )
            if rt.plural == "namespaces" and (
                self._objects["namespaces"].get(("", name), None) is not None
            ):
                entry = self._objects["namespaces"][("", name)]
                if entry.obj["metadata"].get("deletionTimestamp"):
                    raise ApiError(
                        409,
                        "AlreadyExists",
                        f'object is being deleted: namespaces "{name}" already exists',
                        {"name": name, "kind": "namespaces"},
                    )
            if (ns, name) in self._objects[rt.key]:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{rt.key} "{name}" already exists',
                    {"name": name, "group": rt.group, "kind": rt.plural},
                )
            name_err = self._name_error(rt, name)
            if name_err:
                raise self.invalid(
                    rt,
                    name,
                    [validation.FieldError("metadata.name", "Invalid value", name_err, name, True)],
                )
            obj["kind"] = obj.get("kind") or rt.kind
            obj["apiVersion"] = obj.get("apiVersion") or rt.api_version()
            group, _ = validation.split_api_version(obj["apiVersion"])
            if obj["kind"] != rt.kind or group != rt.group:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the API version in the data ({obj['apiVersion']}) does not match the "
                    "expected "
                    f"API version ({rt.api_version()})"
                    if group != rt.group
                    else f"the kind in the data ({obj['kind']}) does not match the expected kind "
                    f"({rt.kind})",
                )
            for key in (
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "generation",
            ):
                meta.pop(key, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = kube.now_iso()
            meta["generation"] = 1
            if (rt.has_status and rt.custom) or rt.plural == "pods":
                obj.pop("status", None)  # the server owns the status of a new object
            set_defaults(rt, obj)
            req = AdmissionRequest("CREATE", rt, ns, name, obj, None, internal=internal)
            self._admit(req)
            self._check_reject(rt, name)
            check_pod_quota(self._objects, rt, obj, ns, name)
            self._validate(rt, obj, name, internal=internal)
            if dry_run:
                return kube.clone(obj)
            stored = self._commit(rt, (ns, name), obj, "ADDED", None)
            return kube.clone(stored)

    def _name_error(self, rt: ResourceType, name: str) -> str | None:
        if rt.plural in ("namespaces",):
            return validation.dns1123_label_error(name)
        if rt.plural in ("services",):
            return validation.dns1035_label_error(name)
        return validation.dns1123_subdomain_error(name)

    def update(
        self,
        rtype: ResourceType | str,
        obj: dict[str, Any],
        namespace: str | None = None,
        *,
        subresource: str = "",
        internal: bool = True,
        require_rv: bool | None = None,
    ) -> dict[str, Any]:
        """PUT semantics: replace the object (or only its status with ``subresource="status"``).
        A stale ``metadata.resourceVersion`` answers 409 Conflict."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        obj = validation.prune_nulls(obj)
        meta = obj.get("metadata") or {}
        ns = (
            (namespace if namespace is not None else meta.get("namespace", ""))
            if rt.namespaced
            else ""
        )
        name = meta.get("name", "")
        with self.lock:
            entry = self._entry(rt, ns, name)
            if entry is None:
                raise self.not_found(rt, name)
            old = entry.obj
            rv = meta.get("resourceVersion")
            if require_rv is None:
                require_rv = rt.custom
            if not rv and require_rv:
                raise self.invalid(
                    rt,
                    name,
                    [
                        validation.FieldError(
                            "metadata.resourceVersion",
                            "Invalid value",
                            "must be specified for an update",
                            0,
                            True,
                        )
                    ],
                )
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise self.conflict(rt, name)
            return self._replace(rt, ns, name, old, obj, subresource, internal)

    def _replace(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        old: dict[str, Any],
        obj: dict[str, Any],
        subresource: str,
        internal: bool,
    ) -> dict[str, Any]:
        """Build the new object from old + obj following the status-subresource rules."""
        if subresource == "status" and "status" not in rt.subresources:
            raise not_found_resource()
        if subresource == "status":
            new = kube.clone(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            new = obj
            new["kind"] = old["kind"]
            new["apiVersion"] = obj.get("apiVersion") or old["apiVersion"]
            if rt.has_status and subresource != "all":
                if "status" in old:
                    new["status"] = kube.clone(old["status"])
                else:
                    new.pop("status", None)
            meta = new.setdefault("metadata", {})
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
                else:
                    meta.pop(key, None)
            meta["name"] = name
            if rt.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            meta["generation"] = old["metadata"].get("generation", 1)
            if self._spec_of(new) != self._spec_of(old):
                meta["generation"] += 1
                if rt.plural == "pods" and not internal:
                    self._check_pod_update(rt, old, new)
            if old["metadata"].get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(
                    old["metadata"].get("finalizers") or []
                )
                if added:
                    raise self.invalid(
                        rt,
                        name,
                        [
                            validation.FieldError(
                                "metadata.finalizers",
                                "Forbidden",
                                "no new finalizers can be added if the object is being deleted, "
                                f"found new finalizers {json.dumps(sorted(added))}",
                            )
                        ],
                    )
            set_defaults(rt, new)
        req = AdmissionRequest("UPDATE", rt, ns, name, new, old, subresource, internal)
        self._admit(req)
        self._validate(rt, new, name, old, internal)
        if self._same(new, old):
            return kube.clone(old)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._commit(rt, (ns, name), None, "DELETED", new)
            return kube.clone(new)
        stored = self._commit(rt, (ns, name), new, "MODIFIED", old)
        return kube.clone(stored)

    def _check_pod_update(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
        def mutable_view(spec: dict[str, Any]) -> dict[str, Any]:
            view = kube.clone(spec)
            view.pop("activeDeadlineSeconds", None)
            view.pop("tolerations", None)
            view.pop("schedulingGates", None)
            for c in view.get("containers") or []:
                c.pop("image", None)
            for c in view.get("initContainers") or []:
                c.pop("image", None)
            return view

        if mutable_view(old.get("spec") or {}) != mutable_view(new.get("spec") or {}):
            raise self.invalid(
                rt,
                old["metadata"]["name"],
                [
                    validation.FieldError(
                        "spec",
                        "Forbidden",
                        "pod updates may not change fields other than `spec.containers[*].image`,"
                        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                        "`spec.tolerations` (only additions to existing tolerations),"
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                        "previously negative)",
                    )
                ],
            )
