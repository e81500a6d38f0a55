"""What a request asks for: the resource path parsed into a ``Route``, its verb, its query
flags, and the ``RequestRecord`` kept of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store import ApiError, ResourceType, Store, not_found_resource

if TYPE_CHECKING:
    from .faults import Faults


@dataclass
class RequestRecord:
    """One HTTP request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    watch: bool
    status: int
    resource: str = ""  # plural ("pods", "pytorchjobs"); "" for discovery and others
    group: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    verb: str = ""  # get, list, watch, create, update, patch, delete, deletecollection


@dataclass
class Route:
    group: str
    version: str
    rtype: ResourceType
    namespace: str
    name: str
    subresource: str
    watch_prefix: bool
    #: What follows ``.../pods/<name>/proxy`` (the path inside the pod).
    proxy_path: str = ""


def parse_route(parts: list[str], store: Store, faults: Faults) -> Route:
    """The route of ``/api/...`` or ``/apis/...`` path parts (404 for what is not served)."""
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    watch_prefix = False
    if rest and rest[0] == "watch":
        watch_prefix, rest = True, rest[1:]
    if not rest:
        raise not_found_resource()
    ns, name, sub, proxied = "", "", "", ""
    namespaced_path = False
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = store.find_type(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespaced_path = True
            ns, plural = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else ""
            sub = rest[4] if len(rest) > 4 else ""
            if sub == "proxy":
                proxied, rest = "/".join(rest[5:]), rest[:5]
            if len(rest) > 5:
                raise not_found_resource()
        elif group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"):
            plural, name, sub = "namespaces", rest[1], rest[2]
        else:
            raise not_found_resource()
    else:
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3:
            raise not_found_resource()
    rtype = store.find_type(group, version, plural)
    if rtype is None or not faults.installed(rtype):
        raise not_found_resource()
    if namespaced_path and not rtype.namespaced:
        raise not_found_resource()
    if sub and sub not in rtype.subresources:
        raise not_found_resource()
    return Route(group, version, rtype, ns, name, sub, watch_prefix, proxied)


def verb_of(method: str, route: Route, watch: bool) -> str:
    """The RBAC verb of a request ("" for a method the API does not serve)."""
    if method == "GET":
        if route.subresource == "log":
            return "get"
        if route.name:
            return "watch" if watch else "get"
        return "watch" if watch else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if route.name else "deletecollection",
    }.get(method, "")


def flag(query: dict[str, str], key: str) -> bool:
    """A boolean query parameter (the Python client sends ``True``)."""
    return query.get(key, "").lower() in ("true", "1")


def method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
