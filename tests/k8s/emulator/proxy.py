"""The pod proxy subresource: ``GET /api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH`` forwarded
to the pod, as the API server does (``pod.ResourceLocation``): the port defaults to the first
declared container port, a pod without an IP answers 400 "address not allowed", a pod whose
port nobody listens on (not running, or its process ended) 503 "error trying to reach
service", and the pod's own answer is relayed with its status, content type and body.

Pods all have 127.0.0.1 here, so the fake kubelet gives each declared container port a free
loopback port (``Store.pod_ports``); the proxy dials that one."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..store import ApiError, Store
from .handler import Handler
from .routing import Route, method_not_allowed

#: Seconds the proxy waits for the pod (the API server's dial and response timeouts are longer;
#: tests need a hung pod to answer sooner).
TIMEOUT = 10.0


def _name_and_port(raw: str) -> tuple[str, str]:
    """``name``, ``name:port`` or ``scheme:name:port`` (as ``SplitSchemeNamePort``)."""
    parts = unquote(raw).split(":")
    if len(parts) == 3 and parts[0] in ("http", "https"):
        parts = parts[1:]
    if len(parts) > 2 or not parts[0] or (len(parts) == 2 and not parts[1]):
        raise ApiError(400, "BadRequest", f'invalid pod request "{unquote(raw)}"')
    return parts[0], parts[1] if len(parts) == 2 else ""


def _first_port(pod: dict[str, Any]) -> str:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            return str(port["containerPort"])
    return ""


def _unreachable(ip: str, port: str, why: str) -> ApiError:
    return ApiError(
        503, "ServiceUnavailable", f"error trying to reach service: dial tcp {ip}:{port}: {why}"
    )


def serve_pod_proxy(h: Handler, store: Store, route: Route) -> None:
    """Answer a GET on a pod's proxy subresource (other methods: 405)."""
    if h.command != "GET":
        raise method_not_allowed()
    name, port = _name_and_port(route.name)
    pod = store.get(route.rtype, route.namespace, name, copy_=False)
    port = port or _first_port(pod)
    status = pod.get("status") or {}
    ip = status.get("podIP") or ""
    if not ip:
        raise ApiError(400, "BadRequest", "address not allowed")
    target = store.pod_ports.get((route.namespace, name, int(port))) if port.isdigit() else None
    if target is None or status.get("phase") != "Running":
        raise _unreachable(ip, port or "80", "connect: connection refused")
    query = urlsplit(h.path).query
    # As the API server: the decoded path, escaped again for the pod.
    path = "/" + quote(unquote(route.proxy_path), safe="/") + (f"?{query}" if query else "")
    connection = http.client.HTTPConnection("127.0.0.1", target, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers={"Accept": h.headers.get("Accept") or "*/*"})
        response = connection.getresponse()
        body = response.read()
        content_type = response.getheader("Content-Type") or "text/plain"
    except ConnectionRefusedError:
        raise _unreachable(ip, port, "connect: connection refused") from None
    except OSError as err:
        raise _unreachable(ip, port, f"i/o timeout ({err})") from None
    finally:
        connection.close()
    h.send_bytes(response.status, body, content_type)
