"""The REST verbs on a resource path: get, list, create (and the pod subresources
eviction and binding), update, patch (including server-side apply) and delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from .. import kube
from ..store import ApiError, ResourceType, Store, encode
from .handler import Handler
from .routing import Route, flag, method_not_allowed


def serve_get(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    h.send_bytes(200, store.get_raw(route.rtype, route.namespace, route.name, route.version))


def serve_list(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    limit = int(query.get("limit") or 0)
    body = store.list_raw(
        route.rtype,
        route.version,
        route.namespace or None,
        query.get("labelSelector"),
        query.get("fieldSelector"),
        limit,
        query.get("continue") or None,
    )
    h.send_bytes(200, body)


def serve_create(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    rt = route.rtype
    if route.name:
        if route.subresource == "eviction":
            _evict(h, store, route)
            return
        if route.subresource == "binding":
            _bind(h, store, route, h.body)
            return
        raise method_not_allowed()
    obj = _json_object(h.body)
    _check_identity(rt, route, obj)
    created = store.create(
        rt, obj, route.namespace, internal=False, dry_run=query.get("dryRun") == "All"
    )
    h.send_bytes(201, _encode(rt, route.version, created))


def serve_update(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    rt = route.rtype
    obj = _json_object(h.body)
    _check_identity(rt, route, obj)
    name = (obj.get("metadata") or {}).get("name")
    if name != route.name:
        raise ApiError(
            400,
            "BadRequest",
            f"the name of the object ({name}) does not match the name on the URL ({route.name})",
        )
    updated = store.update(rt, obj, route.namespace, subresource=route.subresource, internal=False)
    h.send_bytes(200, _encode(rt, route.version, updated))


def serve_patch(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    rt, ns, body = route.rtype, route.namespace, h.body
    ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "application/apply-patch+yaml":
        _apply(h, store, route, query)
        return
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"error decoding patch: {exc}") from None
    patched = store.patch(
        rt, ns, route.name, patch, ctype, subresource=route.subresource, internal=False
    )
    h.send_bytes(200, _encode(rt, route.version, patched))


def _apply(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    """Server-side apply (``application/apply-patch+yaml``)."""
    rt = route.rtype
    if not query.get("fieldManager"):
        raise ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
            "required for apply patch",
        )
    try:
        obj = yaml.safe_load(h.body.decode() or "{}")
    except yaml.YAMLError as exc:
        raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from None
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", "the body of the request must be an object")
    _check_identity(rt, route, obj)
    applied, was_created = store.apply(rt, route.namespace, route.name, obj, internal=False)
    h.send_bytes(201 if was_created else 200, _encode(rt, route.version, applied))


def serve_delete(h: Handler, store: Store, route: Route, query: dict[str, str]) -> None:
    """DELETE of one object, or of the collection when the path names none."""
    rt, ns, body = route.rtype, route.namespace, h.body
    options: dict[str, Any] = {}
    if body.strip():
        try:
            options = json.loads(body)
        except ValueError:
            raise ApiError(400, "BadRequest", "error decoding DeleteOptions") from None
    policy = options.get("propagationPolicy") or query.get("propagationPolicy")
    if policy is None and (options.get("orphanDependents") or flag(query, "orphanDependents")):
        policy = "Orphan"
    grace = options.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
    if not route.name:
        deleted = store.delete_collection(
            rt,
            ns or None,
            query.get("labelSelector"),
            query.get("fieldSelector"),
            policy,
            internal=False,
        )
        items = [json.loads(_encode(rt, route.version, o)) for o in deleted]
        h.send_json(
            200,
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version(route.version),
                "metadata": {},
                "items": items,
            },
        )
        return
    response, gone = store.delete(
        rt,
        ns,
        route.name,
        propagation=policy,
        preconditions=options.get("preconditions"),
        grace_period=int(grace) if grace is not None else None,
        internal=False,
    )
    if response.get("kind") == "Status":
        h.send_json(200, response)
    else:
        # 202 only for the legacy orphanDependents=false, as the real handler does.
        accepted = not gone and options.get("orphanDependents") is False
        h.send_bytes(202 if accepted else 200, _encode(rt, route.version, response))


# The handler of each verb that is not a watch or a pod log.
VERBS: dict[str, Callable[[Handler, Store, Route, dict[str, str]], None]] = {
    "get": serve_get,
    "list": serve_list,
    "create": serve_create,
    "update": serve_update,
    "patch": serve_patch,
    "delete": serve_delete,
    "deletecollection": serve_delete,
}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body or b"null")
    except ValueError as exc:
        raise ApiError(
            400, "BadRequest", f"the body of the request was not valid JSON: {exc}"
        ) from None
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
    return obj


def _check_identity(rt: ResourceType, route: Route, obj: dict[str, Any]) -> None:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if rt.custom and (not kind or not api_version):
        shown = json.dumps(obj, separators=(",", ":"))[:200]
        missing = "Kind" if not kind else "apiVersion"
        raise ApiError(400, "BadRequest", f"Object '{missing}' is missing in '{shown}'")
    if api_version and api_version != rt.api_version(route.version):
        raise ApiError(
            400,
            "BadRequest",
            f"the API version in the data ({api_version}) does not match the expected API "
            "version "
            f"({rt.api_version(route.version)})",
        )
    if kind and kind != rt.kind:
        raise ApiError(
            400,
            "BadRequest",
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})",
        )
    if kind is None or api_version is None:
        obj.setdefault("kind", rt.kind)
        obj.setdefault("apiVersion", rt.api_version(route.version))


def _encode(rt: ResourceType, version: str, obj: dict[str, Any]) -> bytes:
    body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    return encode(obj.get("kind") or rt.kind, rt.api_version(version), kube.dumps(body))


# -------------------- pods: eviction, binding


def _send_created(h: Handler) -> None:
    """The ``Status`` of success that an eviction or a binding answers."""
    h.send_json(
        201,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        },
    )


def _evict(h: Handler, store: Store, route: Route) -> None:
    store.delete(route.rtype, route.namespace, route.name, internal=False)
    _send_created(h)


def _bind(h: Handler, store: Store, route: Route, body: bytes) -> None:
    binding = _json_object(body)
    node = (binding.get("target") or {}).get("name")
    if not node:
        raise ApiError(422, "Invalid", 'Binding "" is invalid: target.name: Required value')

    def bind(pod: dict[str, Any]) -> None:
        if pod["spec"].get("nodeName"):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on pods/binding "{route.name}": pod '
                f'{route.name} is already assigned to node "{pod["spec"]["nodeName"]}"',
            )
        pod["spec"]["nodeName"] = node

    if store.mutate(route.rtype, route.namespace, route.name, bind, subresource="all") is None:
        raise store.not_found(route.rtype, route.name)
    _send_created(h)
