"""The emulator's object store: resource types, API errors, and a thread-safe,
versioned store with watch history, cascading deletion, admission hooks and validation.

The HTTP layer (``emulator.py``) and the fake controllers (``cluster.py``) both use it;
controllers write here directly, so their traffic is not counted in ``emu.requests``.

Stored objects are never mutated in place: every write stores a new dict, so callers may
hold on to what ``get(..., copy=False)`` returns but must not change it.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import kube, validation

# -------------------- errors


class ApiError(Exception):
    """An error the API server answers with a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status_extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.status_extra = status_extra or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        body.update(self.status_extra)
        return body


def not_found_resource() -> ApiError:
    """What the API server answers for a path it does not serve (e.g. a CRD not installed)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


# -------------------- resource types


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str  # the storage (preferred) version
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    versions: tuple[str, ...] = ()
    custom: bool = False
    list_kind: str = ""
    field_labels: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def key(self) -> str:
        """``pods`` or ``pytorchjobs.kubeflow.org`` (the ``group/resource`` name)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        v = version or self.version
        return f"{self.group}/{v}" if self.group else v

    @property
    def all_versions(self) -> tuple[str, ...]:
        return self.versions or (self.version,)

    @property
    def group_kind(self) -> str:
        """``PyTorchJob.kubeflow.org`` or ``Pod``: how Invalid messages name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)


def _core(
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: Iterable[str] = (),
    fields: tuple[str, ...] = (),
    group: str = "",
    version: str = "v1",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        subresources=frozenset(sub),
        list_kind=kind + "List",
        field_labels=fields,
    )


CORE_TYPES: tuple[ResourceType, ...] = (
    _core(
        "pods",
        "Pod",
        short=("po",),
        sub=("status", "log", "binding", "eviction"),
        fields=_POD_FIELDS,
    ),
    _core("configmaps", "ConfigMap", short=("cm",)),
    _core("secrets", "Secret", fields=("type",)),
    _core("events", "Event", short=("ev",), fields=_EVENT_FIELDS),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), sub=("status",)),
    _core(
        "persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",), sub=("status",)
    ),
    _core("services", "Service", short=("svc",), sub=("status",)),
    _core("endpoints", "Endpoints", short=("ep",)),
    _core("serviceaccounts", "ServiceAccount", short=("sa",)),
    _core("resourcequotas", "ResourceQuota", short=("quota",), sub=("status",)),
    _core("limitranges", "LimitRange", short=("limits",)),
    _core(
        "nodes",
        "Node",
        namespaced=False,
        short=("no",),
        sub=("status",),
        fields=("spec.unschedulable",),
    ),
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        short=("ns",),
        sub=("status", "finalize"),
        fields=("status.phase",),
    ),
)


def custom_types(installed: Iterable[str] | None = None) -> tuple[ResourceType, ...]:
    """Resource types of the pinned CRDs. ``installed``: CRD names (``pytorchjobs.kubeflow.org``)
    or plurals; None means all of them."""
    wanted = None if installed is None else set(installed)
    out = []
    for info in validation.crd_infos():
        if wanted is not None and info.name not in wanted and info.plural not in wanted:
            continue
        subresources: set[str] = set()
        for v in info.versions:
            subresources |= set(v.subresources)
        out.append(
            ResourceType(
                group=info.group,
                version=info.storage_version,
                plural=info.plural,
                kind=info.kind,
                namespaced=info.namespaced,
                singular=info.singular,
                short_names=info.short_names,
                subresources=frozenset(subresources),
                versions=tuple(v.name for v in info.versions if v.served),
                custom=True,
                list_kind=info.list_kind,
            )
        )
    return tuple(out)


# -------------------- store


@dataclass
class _Entry:
    obj: dict[str, Any]
    tail: bytes  # JSON of obj without kind/apiVersion, starting with '{'


@dataclass(frozen=True)
class Change:
    """One entry of the watch history."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rtype: ResourceType
    namespace: str
    obj: dict[str, Any]
    old: dict[str, Any] | None
    tail: bytes


@dataclass
class AdmissionRequest:
    operation: str  # CREATE, UPDATE, DELETE
    rtype: ResourceType
    namespace: str
    name: str
    obj: dict[str, Any] | None  # mutable for mutating hooks
    old: dict[str, Any] | None
    subresource: str = ""
    internal: bool = False  # written by a fake controller, not through the HTTP API


AdmissionHook = Callable[[AdmissionRequest], None]

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _tail(obj: dict[str, Any]) -> bytes:
    body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    return kube.dumps(body)


def encode(kind: str, api_version: str, tail: bytes) -> bytes:
    head = kube.dumps({"kind": kind, "apiVersion": api_version})
    if tail == b"{}":
        return head
    return head[:-1] + b"," + tail[1:]


class Store:
    """A thread-safe object store with a global resourceVersion and a watch history."""

    def __init__(self, types: Iterable[ResourceType], *, max_history: int = 500_000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.types: dict[str, ResourceType] = {}
        for t in types:
            self.types[t.key] = t
        self._objects: dict[str, dict[tuple[str, str], _Entry]] = {k: {} for k in self.types}
        self._by_uid: dict[str, tuple[str, str, str]] = {}
        self._dependents: dict[str, set[str]] = {}  # owner uid -> dependent uids
        self.rv = 1
        self._history: list[Change] = []
        self._history_base = 2  # rv of _history[0]
        self.compacted_rv = 1
        self.max_history = max_history
        self.mutating_hooks: list[AdmissionHook] = []
        self.validating_hooks: list[AdmissionHook] = []
        self.reject_rules: list[tuple[str, str]] = []  # (resource key or plural, message)
        self.validate_writes = True
        # Also validate what the fake controllers write (their own tests turn this on; it
        # costs about a millisecond per write).
        self.validate_internal = False
        self.stopped = False
        # Pod logs: (namespace, pod, container) -> path of a CRI-format log file.
        self.log_files: dict[tuple[str, str, str], str] = {}

    # -------------------- types

    def rtype(self, key: str) -> ResourceType:
        """A resource type by ``plural`` (core) or ``plural.group`` or ``Kind``."""
        found = self.types.get(key)
        if found:
            return found
        for t in self.types.values():
            if t.plural == key or t.kind == key:
                return t
        raise KeyError(key)

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        key = f"{plural}.{group}" if group else plural
        t = self.types.get(key)
        if t and version in t.all_versions:
            return t
        return None

    def type_for(self, api_version: str, kind: str) -> ResourceType | None:
        group, version = validation.split_api_version(api_version)
        for t in self.types.values():
            if t.group == group and t.kind == kind and version in t.all_versions:
                return t
        return None

    # -------------------- reads

    def _entry(self, rtype: ResourceType, namespace: str, name: str) -> _Entry | None:
        return self._objects[rtype.key].get((namespace if rtype.namespaced else "", name))

    def get(
        self, rtype: ResourceType | str, namespace: str, name: str, *, copy_: bool = True
    ) -> dict[str, Any]:
        """The object, or ApiError 404."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        with self.lock:
            entry = self._entry(rt, namespace, name)
            if entry is None:
                raise self.not_found(rt, name)
            return kube.clone(entry.obj) if copy_ else entry.obj

    def try_get(
        self, rtype: ResourceType | str, namespace: str, name: str, *, copy_: bool = True
    ) -> dict[str, Any] | None:
        try:
            return self.get(rtype, namespace, name, copy_=copy_)
        except ApiError:
            return None

    def get_raw(self, rtype: ResourceType, namespace: str, name: str, version: str) -> bytes:
        with self.lock:
            entry = self._entry(rtype, namespace, name)
            if entry is None:
                raise self.not_found(rtype, name)
            return encode(rtype.kind, rtype.api_version(version), entry.tail)

    def by_uid(self, uid: str) -> dict[str, Any] | None:
        with self.lock:
            where = self._by_uid.get(uid)
            if where is None:
                return None
            entry = self._objects[where[0]].get((where[1], where[2]))
            return entry.obj if entry else None

    def field_aliases(self, rtype: ResourceType) -> dict[str, str]:
        return {"source": "source.component"} if rtype.plural == "events" else {}

    def check_field_selector(
        self, rtype: ResourceType, selector: list[tuple[str, str, str]]
    ) -> None:
        allowed = {"metadata.name", "metadata.namespace", *rtype.field_labels}
        for field_name, _, _ in selector:
            if field_name not in allowed:
                raise ApiError(400, "BadRequest", f"field label not supported: {field_name}")

    def select(
        self,
        rtype: ResourceType | str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Matching objects (shared, do not modify), sorted by namespace and name."""
        items, _ = self.list_objects(rtype, namespace, label_selector, field_selector, copy_=False)
        return items

    def list_objects(
        self,
        rtype: ResourceType | str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        copy_: bool = True,
    ) -> tuple[list[dict[str, Any]], int]:
        """(objects, resourceVersion of the list)."""
        rt = self.rtype(rtype) if isinstance(rtype, str) else rtype
        entries, rv = self._select(rt, namespace, label_selector, field_selector)
        objs = [e.obj for _, e in entries]
        return ([kube.clone(o) for o in objs] if copy_ else objs), rv

    def _select(
        self,
        rtype: ResourceType,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        start_after: tuple[str, str] | None = None,
    ) -> tuple[list[tuple[tuple[str, str], _Entry]], int]:
        try:
            labels = kube.parse_label_selector(label_selector)
            fields = kube.parse_field_selector(field_selector)
        except kube.SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        self.check_field_selector(rtype, fields)
        aliases = self.field_aliases(rtype)
        with self.lock:
            bucket = self._objects[rtype.key]
            keys = sorted(bucket)
            out = []
            for key in keys:
                if namespace and rtype.namespaced and key[0] != namespace:
                    continue
                if start_after is not None and key <= start_after:
                    continue
                entry = bucket[key]
                meta = entry.obj.get("metadata") or {}
                if labels and not kube.labels_match(labels, meta.get("labels")):
                    continue
                if fields and not kube.fields_match(fields, entry.obj, aliases):
                    continue
                out.append((key, entry))
            return out, self.rv

    def list_raw(
        self,
        rtype: ResourceType,
        version: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> bytes:
        """The JSON body of a list response (with ``limit``/``continue`` pagination)."""
        start_after = None
        list_rv = None
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode()).decode())
                start_after = (token["start"][0], token["start"][1])
                list_rv = int(token["rv"])
            except (ValueError, KeyError, TypeError, IndexError):
                raise ApiError(
                    400, "BadRequest", "continue key is not valid: illegal base64 data"
                ) from None
            if list_rv < self.compacted_rv:
                raise ApiError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. "
                    "You can start a new list without the continue parameter, or use the continue "
                    "token in this response to retrieve the remainder of the results. Continuing "
                    "with the provided token results in an inconsistent list - objects that were "
                    "created, modified, or deleted between the time the first chunk was returned "
                    "and now may show up in the list.",
                )
        with self.lock:
            entries, rv = self._select(
                rtype, namespace, label_selector, field_selector, start_after
            )
            meta: dict[str, Any] = {"resourceVersion": str(list_rv or rv)}
            if limit and len(entries) > limit:
                remaining = len(entries) - limit
                entries = entries[:limit]
                last = entries[-1][0]
                token = {"rv": list_rv or rv, "start": [last[0], last[1]]}
                meta["continue"] = base64.urlsafe_b64encode(kube.dumps(token)).decode()
                meta["remainingItemCount"] = remaining
            api_version = rtype.api_version(version)
            if rtype.custom:
                items = [encode(rtype.kind, api_version, e.tail) for _, e in entries]
            else:
                # Items of built-in lists carry no kind/apiVersion, as a real server answers.
                items = [e.tail for _, e in entries]
        head = kube.dumps({"kind": rtype.list_kind, "apiVersion": api_version, "metadata": meta})
        return head[:-1] + b',"items":[' + b",".join(items) + b"]}"

    # -------------------- errors

    def not_found(self, rtype: ResourceType, name: str) -> ApiError:
        return ApiError(
            404,
            "NotFound",
            f'{rtype.key} "{name}" not found',
            {"name": name, "group": rtype.group, "kind": rtype.plural},
        )

    def invalid(
        self, rtype: ResourceType, name: str, errors: list[validation.FieldError]
    ) -> ApiError:
        text = ", ".join(str(e) for e in errors)
        if len(errors) > 1:
            text = f"[{text}]"
        return ApiError(
            422,
            "Invalid",
            f'{rtype.group_kind} "{name}" is invalid: {text}',
            {
                "name": name,
                "group": rtype.group,
                "kind": rtype.kind,
                "causes": [
                    {"reason": e.reason, "message": str(e).split(": ", 1)[-1], "field": e.path}
                    for e in errors
                ],
            },
        )

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

    # -------------------- writes

    def _commit(
        self,
        rtype: ResourceType,
        key: tuple[str, str],
        obj: dict[str, Any] | None,
        event: str,
        old: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Store (or remove) an object, bump the resourceVersion, record the change."""
        self.rv += 1
        rv = self.rv
        bucket = self._objects[rtype.key]
        if obj is None:
            assert old is not None
            final = dict(old)
            final["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
            bucket.pop(key, None)
            uid = old["metadata"].get("uid")
            self._by_uid.pop(uid, None)
            for ref in old["metadata"].get("ownerReferences") or []:
                deps = self._dependents.get(ref.get("uid"))
                if deps:
                    deps.discard(uid)
            stored = final
        else:
            obj["metadata"]["resourceVersion"] = str(rv)
            stored = obj
            uid = obj["metadata"]["uid"]
            if old is not None:
                for ref in old["metadata"].get("ownerReferences") or []:
                    deps = self._dependents.get(ref.get("uid"))
                    if deps:
                        deps.discard(uid)
            for ref in obj["metadata"].get("ownerReferences") or []:
                self._dependents.setdefault(ref.get("uid"), set()).add(uid)
            self._by_uid[uid] = (rtype.key, key[0], key[1])
        tail = _tail(stored)
        if obj is not None:
            bucket[key] = _Entry(stored, tail)
        self._history.append(Change(rv, event, rtype, key[0], stored, old, tail))
        if len(self._history) > self.max_history:
            drop = len(self._history) - self.max_history // 2
            del self._history[:drop]
            self._history_base += drop
            self.compacted_rv = max(self.compacted_rv, self._history_base - 1)
        self.changed.notify_all()
        return stored

    def _admit(self, req: AdmissionRequest) -> None:
        for hook in list(self.mutating_hooks):
            hook(req)
        for hook in list(self.validating_hooks):
            hook(req)

    def _check_reject(self, rtype: ResourceType, name: str) -> None:
        for resource, message in self.reject_rules:
            if resource in (rtype.key, rtype.plural):
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{rtype.key} "{name}" is forbidden: {message}',
                    {"name": name, "group": rtype.group, "kind": rtype.plural},
                )

    def _namespace_exists(self, namespace: str) -> bool:
        return ("", namespace) in self._objects.get("namespaces", {})

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
            self._defaults(rt, obj)
            req = AdmissionRequest("CREATE", rt, ns, name, obj, None, internal=internal)
            self._admit(req)
            self._check_reject(rt, name)
            self._builtin_admission(rt, obj, ns, name)
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

    def conflict(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rt.key} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            {"name": name, "group": rt.group, "kind": rt.plural},
        )

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
            self._defaults(rt, new)
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

    @staticmethod
    def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")
        }

    @staticmethod
    def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        ma = {
            k: v for k, v in a["metadata"].items() if k not in ("resourceVersion", "managedFields")
        }
        mb = {
            k: v for k, v in b["metadata"].items() if k not in ("resourceVersion", "managedFields")
        }
        if ma != mb:
            return False
        return {k: v for k, v in a.items() if k != "metadata"} == {
            k: v for k, v in b.items() if k != "metadata"
        }

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

    # -------------------- delete

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

    # -------------------- defaults & built-in admission

    def _defaults(self, rt: ResourceType, obj: dict[str, Any]) -> None:
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
                    "None"
                    if spec.get("clusterIP") == "None"
                    else spec.get("clusterIP", "10.96.0.10")
                )
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        elif rt.plural == "persistentvolumeclaims":
            obj.setdefault("status", {"phase": "Pending"})
            spec = obj.setdefault("spec", {})
            spec.setdefault("volumeMode", "Filesystem")

    def _builtin_admission(self, rt: ResourceType, obj: dict[str, Any], ns: str, name: str) -> None:
        """The ResourceQuota admission controller (pods against ``hard`` limits)."""
        if rt.plural != "pods":
            return
        quotas = [
            e.obj for (qns, _), e in self._objects.get("resourcequotas", {}).items() if qns == ns
        ]
        if not quotas:
            return
        pods_rt = self.types["pods"]
        live = [
            e.obj
            for (pns, _), e in self._objects[pods_rt.key].items()
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
                key
                for key in hard
                if key in want and used.get(key, Decimal(0)) + want[key] > hard[key]
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

    # -------------------- watch

    def compact(self) -> None:
        """Forget the history: every resourceVersion issued so far is now too old for
        watches and continue tokens (410 Gone). The resourceVersion moves on by one, so a
        list made after this gives a version to watch from."""
        with self.lock:
            self.rv += 1
            self._history.clear()
            self._history_base = self.rv + 1
            self.compacted_rv = self.rv
            self.changed.notify_all()

    def changes_since(self, rv: int, *, strict: bool = True) -> list[Change]:
        """Changes with resourceVersion > rv (ApiError 410 when compacted away and
        ``strict``; an established watch keeps going past a compaction, as etcd's does)."""
        with self.lock:
            if strict and rv < self.compacted_rv:
                raise ApiError(
                    410, "Expired", f"too old resource version: {rv} ({self.compacted_rv})"
                )
            start = max(0, rv + 1 - self._history_base)
            return self._history[start:]

    def wait(self, after_rv: int, timeout: float) -> int:
        """Block until the resourceVersion passes ``after_rv`` (or timeout); returns it."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.rv <= after_rv and not self.stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return self.rv

    def snapshot(
        self, rtype: ResourceType, namespace: str | None
    ) -> tuple[list[tuple[dict[str, Any], bytes]], int]:
        """Current objects (obj, tail) and the resourceVersion, atomically."""
        with self.lock:
            bucket = self._objects[rtype.key]
            out = [
                (bucket[k].obj, bucket[k].tail)
                for k in sorted(bucket)
                if not (namespace and rtype.namespaced and k[0] != namespace)
            ]
            return out, self.rv

    def bump(self) -> None:
        """Wake every waiter (used on shutdown)."""
        with self.lock:
            self.changed.notify_all()


# -------------------- pods


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


@dataclass
class Watcher:
    """A watch on one resource type, fed from the store's history."""

    store: Store
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
