"""The emulator's object store: resource types, API errors, and a thread-safe,
versioned store with watch history, cascading deletion, admission hooks and validation.

The HTTP layer (``emulator``) and the fake controllers (``cluster``) both use it;
controllers write here directly, so their traffic is not counted in ``emu.requests``.

Stored objects are never mutated in place: every write stores a new dict, so callers may
hold on to what ``get(..., copy=False)`` returns but must not change it.

``Store`` is one class written in layers, a module each: ``objects`` (what it holds, the
commit of a change, the watch history), ``reads`` (selectors, lists), ``writes`` (create,
update), ``patching`` (patch, apply, mutate) and ``deletion`` (cascade); ``admission`` holds
the built-in defaults and the ResourceQuota check, ``watch`` the ``Watcher``.
"""

from __future__ import annotations

from .admission import pod_quota_usage, qos_class
from .deletion import Deletion
from .errors import ApiError, not_found_resource
from .objects import AdmissionHook, AdmissionRequest, Change, encode
from .patching import Patching
from .resource_types import CORE_TYPES, POD_METRICS, ResourceType, custom_types
from .watch import Watcher

__all__ = [
    "CORE_TYPES",
    "POD_METRICS",
    "AdmissionHook",
    "AdmissionRequest",
    "ApiError",
    "Change",
    "ResourceType",
    "Store",
    "Watcher",
    "custom_types",
    "encode",
    "not_found_resource",
    "pod_quota_usage",
    "qos_class",
]


class Store(Patching, Deletion):
    """A thread-safe object store with a global resourceVersion and a watch history."""
