"""Patches (JSON, merge, strategic merge), server-side apply, and the controllers'
read-modify-write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import kube, validation
from .errors import ApiError
from .resource_types import ResourceType
from .writes import Writes


class Patching(Writes):
    """Writes that start from the stored object."""

    def patch(
        self,
        rtype: ResourceType | str,
        namespace: str,
        name: str,
        patch: Any,
        patch_type: str = "application/merge-patch+json",
        *,
        subresource: str = "",
        internal: bool = True,
    ) -> dict[str, Any]:
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        ns = namespace if rt.namespaced else ""
        fn = kube.PATCH_TYPES.get(patch_type)
        if fn is None or (rt.custom and patch_type == "application/strategic-merge-patch+json"):
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                + (
                    "application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml"
                    if rt.custom
                    else "application/json-patch+json, application/merge-patch+json, "
                    "application/strategic-merge-patch+json, application/apply-patch+yaml"
                ),
            )
        with self.lock:
            entry = self._entry(rt, ns, name)
            if entry is None:
                raise self.not_found(rt, name)
            old = entry.obj
            try:
                patched = fn(old, patch)
            except kube.PatchError as exc:
                raise ApiError(
                    422 if patch_type.endswith("json-patch+json") else 400,
                    "Invalid" if patch_type.endswith("json-patch+json") else "BadRequest",
                    str(exc),
                ) from None
            if not isinstance(patched, dict):
                raise ApiError(400, "BadRequest", "the patch did not produce an object")
            patched = validation.prune_nulls(patched)
            meta = patched.setdefault("metadata", {})
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise self.conflict(rt, name)
            if meta.get("name") != name:
                raise ApiError(
                    400,
                    "BadRequest",
                    "metadata.name: Invalid value: the name of the object does not match the name "
                    "on the URL",
                )
            return self._replace(rt, ns, name, old, patched, subresource, internal)

    def apply(
        self,
        rtype: ResourceType | str,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        internal: bool = True,
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply, approximated: create if absent, else a merge patch.
        Returns (object, created)."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        with self.lock:
            if self._entry(rt, namespace if rt.namespaced else "", name) is None:
                body = dict(body)
                body.setdefault("metadata", {})["name"] = name
                return self.create(rt, body, namespace, internal=internal), True
            body = kube.clone(body)
            body.get("metadata", {}).pop("resourceVersion", None)
            return (
                self.patch(
                    rt, namespace, name, body, "application/merge-patch+json", internal=internal
                ),
                False,
            )

    def mutate(
        self,
        rtype: ResourceType | str,
        namespace: str,
        name: str,
        fn: Callable[[dict[str, Any]], Any],
        *,
        subresource: str = "",
    ) -> dict[str, Any] | None:
        """Read-modify-write under the lock (for controllers): ``fn`` changes a copy in
        place; nothing is written when it returns False or changes nothing. Returns the
        stored object, or None when it does not exist."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        ns = namespace if rt.namespaced else ""
        with self.lock:
            entry = self._entry(rt, ns, name)
            if entry is None:
                return None
            new = kube.clone(entry.obj)
            if fn(new) is False or self._same(new, entry.obj):
                return entry.obj
            new["metadata"]["resourceVersion"] = entry.obj["metadata"]["resourceVersion"]
            return self._replace(rt, ns, name, entry.obj, new, subresource, True)
