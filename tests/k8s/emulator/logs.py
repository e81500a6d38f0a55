"""The pod log endpoint: what the fake kubelet wrote in CRI log format, served plain or
followed, with ``timestamps``, ``sinceSeconds``/``sinceTime``, ``tailLines`` and
``limitBytes``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import kube
from ..store import ApiError, Store
from .handler import Handler
from .routing import Route, flag


def serve_pod_log(
    h: Handler, store: Store, route: Route, query: dict[str, str], stopping: Callable[[], bool]
) -> None:
    """Answer ``GET .../pods/<name>/log`` (``follow``: until the container ends)."""
    ns, name = route.namespace, route.name
    pod = store.get(route.rtype, ns, name, copy_=False)
    spec = pod.get("spec") or {}
    container = _container_of(spec, name, query)
    if not spec.get("nodeName"):
        h.send_text(200, "")
        return
    _check_log_state(pod, container, query)
    path = store.log_files.get((ns, name, container))
    opts = _LogOptions.parse(query)
    if not flag(query, "follow"):
        h.send_bytes(200, _read_log(path, opts), "text/plain")
        return
    h.start_chunked(200, "text/plain")
    try:
        _follow(h, store, route, container, path, opts, stopping)
    except (BrokenPipeError, ConnectionResetError, OSError):
        h.close_connection = True


def _follow(
    h: Handler,
    store: Store,
    route: Route,
    container: str,
    path: str | None,
    opts: _LogOptions,
    stopping: Callable[[], bool],
) -> None:
    """Stream the log as it grows, until the container ends (or ``limitBytes``)."""
    ns, name = route.namespace, route.name
    reader = _LogFollower(path, opts)
    sent = 0
    while True:
        chunk = reader.read()
        if opts.limit_bytes is not None:
            chunk = chunk[: max(0, opts.limit_bytes - sent)]
        if chunk:
            h.write_chunk(chunk)
            sent += len(chunk)
        if opts.limit_bytes is not None and sent >= opts.limit_bytes:
            break
        current = store.try_get(route.rtype, ns, name, copy_=False)
        if current is None or stopping() or _container_finished(current, container):
            tail = reader.read(final=True)
            if tail:
                h.write_chunk(tail)
            break
        if h.client_gone():
            return
        if path is None:
            path = store.log_files.get((ns, name, container))
            reader.path = path
        time.sleep(0.05)
    h.end_chunked()


def _container_of(spec: dict[str, Any], name: str, query: dict[str, str]) -> str:
    """The container whose log is asked for (it may be left out when there is one)."""
    containers = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    container = query.get("container") or ""
    if not container:
        if len(containers) == 1:
            container = containers[0]
        else:
            text = (
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(containers)}]"
            )
            if inits:
                text += f" or one of the init containers: [{' '.join(inits)}]"
            raise ApiError(400, "BadRequest", text)
    elif container not in containers and container not in inits:
        raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    return container


def _check_log_state(pod: dict[str, Any], container: str, query: dict[str, str]) -> None:
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    statuses = list(status.get("containerStatuses") or []) + list(
        status.get("initContainerStatuses") or []
    )
    st = next((s for s in statuses if s.get("name") == container), None)
    if flag(query, "previous") and not (st and (st.get("lastState") or {}).get("terminated")):
        raise ApiError(
            400,
            "BadRequest",
            f'previous terminated container "{container}" in pod "{name}" not found',
        )
    state = (st or {}).get("state") or {}
    if st is None or "waiting" in state:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        detail = {
            "ErrImagePull": "image can't be pulled",
            "ImagePullBackOff": "trying and failing to pull image",
        }.get(reason, reason)
        raise ApiError(
            400,
            "BadRequest",
            f'container "{container}" in pod "{name}" is waiting to start: {detail}',
        )


def _container_finished(pod: dict[str, Any], container: str) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    for st in list(status.get("containerStatuses") or []) + list(
        status.get("initContainerStatuses") or []
    ):
        if st.get("name") == container:
            return "terminated" in (st.get("state") or {})
    return False


@dataclass
class _LogOptions:
    timestamps: bool = False
    since: float | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None

    @classmethod
    def parse(cls, query: dict[str, str]) -> _LogOptions:
        opts = cls(timestamps=flag(query, "timestamps"))
        try:
            if query.get("sinceSeconds"):
                opts.since = time.time() - int(query["sinceSeconds"])
            elif query.get("sinceTime"):
                opts.since = kube.parse_time(query["sinceTime"])
            if query.get("tailLines"):
                opts.tail_lines = int(query["tailLines"])
            if query.get("limitBytes"):
                opts.limit_bytes = int(query["limitBytes"])
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid log options: {exc}") from None
        return opts


def _parse_cri(data: bytes, final: bool) -> tuple[list[tuple[str, bytes]], int]:
    """CRI log lines (``<time> <stream> <P|F> <content>``) -> [(time, line with \\n)], and
    how many bytes were consumed (an incomplete last line is left for later)."""
    out: list[tuple[str, bytes]] = []
    pending = b""
    pending_ts = ""
    consumed = 0
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        raw = data[pos:nl]
        pos = nl + 1
        parts = raw.split(b" ", 3)
        if len(parts) < 3:
            continue
        ts = parts[0].decode()
        tag = parts[2]
        content = parts[3] if len(parts) > 3 else b""
        if not pending:
            pending_ts = ts
        pending += content
        if tag == b"F":
            out.append((pending_ts, pending + b"\n"))
            pending = b""
            consumed = pos
    if final and pending:
        out.append((pending_ts, pending))
        consumed = pos
    return out, consumed


def _format_lines(lines: list[tuple[str, bytes]], opts: _LogOptions) -> bytes:
    if opts.since is not None:
        since = opts.since
        lines = [(ts, line) for ts, line in lines if kube.parse_time(ts) >= since]
    if opts.tail_lines is not None:
        lines = lines[-opts.tail_lines :] if opts.tail_lines > 0 else []
    if opts.timestamps:
        return b"".join(ts.encode() + b" " + line for ts, line in lines)
    return b"".join(line for _, line in lines)


def _read_log(path: str | None, opts: _LogOptions) -> bytes:
    if not path:
        return b""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return b""
    lines, _ = _parse_cri(data, final=True)
    out = _format_lines(lines, opts)
    if opts.limit_bytes is not None:
        out = out[: opts.limit_bytes]
    return out


class _LogFollower:
    def __init__(self, path: str | None, opts: _LogOptions) -> None:
        self.path = path
        self.opts = opts
        self.offset = 0
        self.first = True

    def read(self, final: bool = False) -> bytes:
        if not self.path:
            return b""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return b""
        lines, consumed = _parse_cri(data, final)
        self.offset += consumed
        opts = self.opts
        if not self.first:
            opts = _LogOptions(timestamps=opts.timestamps)
        self.first = False
        return _format_lines(lines, opts)
