"""Objects and their versions: what the store holds, how a write is committed (a new
resourceVersion, a watch history entry) and how waiters learn of it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .. import kube, validation
from .errors import ApiError
from .resource_types import ResourceType


@dataclass
class Entry:
    """A stored object with its JSON encoding (written once, served many times)."""

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


def _tail(obj: dict[str, Any]) -> bytes:
    body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    return kube.dumps(body)


def encode(kind: str, api_version: str, tail: bytes) -> bytes:
    head = kube.dumps({"kind": kind, "apiVersion": api_version})
    if tail == b"{}":
        return head
    return head[:-1] + b"," + tail[1:]


class Objects:
    """The objects by type, namespace and name, each write bumping one global
    resourceVersion and appending to the watch history; the admission hooks and the
    errors that every kind of write shares."""

    def __init__(self, types: Iterable[ResourceType], *, max_history: int = 500_000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.types: dict[str, ResourceType] = {}
        for t in types:
            self.types[t.key] = t
        self._objects: dict[str, dict[tuple[str, str], Entry]] = {k: {} for k in self.types}
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
        # Declared container ports: (namespace, pod, containerPort) -> the loopback port the
        # fake kubelet gave the container instead (pods share 127.0.0.1); the pod proxy uses it.
        self.pod_ports: dict[tuple[str, str, int], int] = {}

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

    # -------------------- entries

    def _entry(self, rtype: ResourceType, namespace: str, name: str) -> Entry | None:
        return self._objects[rtype.key].get((namespace if rtype.namespaced else "", name))

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

    def conflict(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rt.key} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            {"name": name, "group": rt.group, "kind": rt.plural},
        )

    # -------------------- comparison

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

    # -------------------- commit and admission

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
            bucket[key] = Entry(stored, tail)
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
