"""Watch streams: the initial state or the history since a resourceVersion, then every
change as it happens, with bookmarks, and 410 Gone after a compaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import kube
from ..store import ApiError, Store, Watcher, encode
from .handler import Handler
from .routing import Route, flag


def serve_watch(
    h: Handler,
    store: Store,
    route: Route,
    query: dict[str, str],
    *,
    bookmark_interval: float,
    stopping: Callable[[], bool],
) -> None:
    """Stream the watch events of ``route`` until its timeout, the client leaves, or the
    emulator stops."""
    if route.name:
        # A watch of one object is a watch of the collection with its name as selector.
        query = dict(
            query,
            fieldSelector=",".join(
                filter(None, [query.get("fieldSelector"), f"metadata.name={route.name}"])
            ),
        )
    rt = route.rtype
    try:
        labels = kube.parse_label_selector(query.get("labelSelector"))
        fields = kube.parse_field_selector(query.get("fieldSelector"))
    except kube.SelectorError as exc:
        raise ApiError(400, "BadRequest", str(exc)) from None
    store.check_field_selector(rt, fields)
    timeout = float(query.get("timeoutSeconds") or 1800)
    bookmarks = flag(query, "allowWatchBookmarks")
    send_initial = flag(query, "sendInitialEvents")
    rv_param = query.get("resourceVersion") or ""
    api_version = rt.api_version(route.version)
    initial: list[tuple[str, dict[str, Any], bytes]] = []
    watcher = Watcher(store, rt, route.namespace or None, labels, fields, 0)
    expired: ApiError | None = None
    if rv_param in ("", "0") or send_initial:
        snapshot, current = store.snapshot(rt, route.namespace or None)
        initial = [
            ("ADDED", obj, tail)
            for obj, tail in snapshot
            if watcher.matches(obj, obj["metadata"].get("namespace", ""))
        ]
        watcher.rv = current
    else:
        try:
            start = int(rv_param)
        except ValueError:
            raise ApiError(
                400,
                "BadRequest",
                f'resourceVersion: Invalid value: "{rv_param}": must be an integer',
            ) from None
        if start < store.compacted_rv:
            expired = ApiError(
                410, "Expired", f"too old resource version: {start} ({store.compacted_rv})"
            )
        watcher.rv = start
    h.start_chunked(200, "application/json")

    def event(kind: str, obj_bytes: bytes) -> bytes:
        return b'{"type":"' + kind.encode() + b'","object":' + obj_bytes + b"}\n"

    def bookmark(rv: int, annotations: dict[str, str] | None = None) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if annotations:
            meta["annotations"] = annotations
        return event(
            "BOOKMARK",
            kube.dumps({"kind": rt.kind, "apiVersion": api_version, "metadata": meta}),
        )

    try:
        if expired is not None:
            h.write_chunk(event("ERROR", kube.dumps(expired.status())))
            h.end_chunked()
            return
        for kind, _obj, tail in initial:
            h.write_chunk(event(kind, encode(rt.kind, api_version, tail)))
        if send_initial:
            h.write_chunk(bookmark(watcher.rv, {"k8s.io/initial-events-end": "true"}))
        deadline = time.monotonic() + timeout
        last_sent = time.monotonic()
        while not stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            events = watcher.poll(min(left, 0.5))
            if events:
                h.write_chunk(
                    b"".join(event(k, encode(rt.kind, api_version, t)) for k, _, t in events)
                )
                last_sent = time.monotonic()
                continue
            if h.client_gone():
                return
            if bookmarks and time.monotonic() - last_sent >= bookmark_interval:
                h.write_chunk(bookmark(watcher.rv))
                last_sent = time.monotonic()
        h.end_chunked()
    except (BrokenPipeError, ConnectionResetError, OSError):
        h.close_connection = True
