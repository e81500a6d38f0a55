"""``ApiEmulator``: the server's state, lifecycle, test knobs and request dispatch."""

from __future__ import annotations

import contextlib
import secrets
import socket
import sys
import threading
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from ..store import (
    CORE_TYPES,
    POD_METRICS,
    ApiError,
    ResourceType,
    Store,
    custom_types,
    not_found_resource,
)
from .discovery import discovery, version
from .faults import Faults
from .handler import Handler, Server
from .logs import serve_pod_log
from .proxy import serve_pod_proxy
from .routing import RequestRecord, Route, flag, method_not_allowed, parse_route, verb_of
from .verbs import VERBS
from .watch import serve_watch


class ApiEmulator:
    """A Kubernetes API server on 127.0.0.1 backed by an in-memory ``Store``."""

    def __init__(
        self,
        namespaces: Iterable[str] = ("default", "ml"),
        installed: Iterable[str] | None = None,
        *,
        user: str = "system:serviceaccount:ml:labrig",
        host: str = "127.0.0.1",
        port: int = 0,
        validate_internal: bool = False,
        metrics: bool = False,
    ) -> None:
        # metrics: also serve metrics.k8s.io PodMetrics, as a cluster with metrics-server does.
        extra = (POD_METRICS,) if metrics else ()
        self.store = Store([*CORE_TYPES, *custom_types(installed), *extra])
        self.store.validate_internal = validate_internal
        for ns in namespaces:
            self.store.create(
                "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
        self.user = user
        self.token = secrets.token_hex(16)
        self._tokens = {self.token}
        self.requests: list[RequestRecord] = []
        self.bookmark_interval = 5.0
        self.faults = Faults()
        self._lock = threading.Lock()
        self._host = host
        self._port = port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -------------------- lifecycle

    def start(self) -> ApiEmulator:
        emu = self

        class EmulatorHandler(Handler):
            emulator = emu

        self._server = Server((self._host, self._port), EmulatorHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="k8s-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._stopping = True
        self.store.stopped = True
        self.store.bump()
        if self._server is not None:
            self._server.shutdown()
            with self._server.conn_lock:
                conns = list(self._server.connections)
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> ApiEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubeconfig(self, path: Path, namespace: str = "ml", token: str | None = None) -> Path:
        """Write a kubeconfig (token auth) that ``config.load_kube_config`` loads."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator-user", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {
                        "cluster": "emulator",
                        "user": "emulator-user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "emulator",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    # -------------------- inspection

    def count(
        self, method: str | None = None, resource: str | None = None, watch: bool | None = None
    ) -> int:
        """How many recorded requests match (``resource``: plural, or ``plural/sub``)."""
        with self._lock:
            records = list(self.requests)
        n = 0
        for r in records:
            if method is not None and r.method != method.upper():
                continue
            if resource is not None and resource not in (
                r.resource,
                f"{r.resource}/{r.subresource}" if r.subresource else None,
                f"{r.resource}.{r.group}" if r.group else None,
            ):
                continue
            if watch is not None and r.watch != watch:
                continue
            n += 1
        return n

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -------------------- fault knobs

    def deny(self, verb: str, resource: str, group: str = "") -> None:
        """RBAC: answer 403 Forbidden to ``verb`` (``*`` for all) on ``resource``
        (``pods``, ``pods/log``, ``*``) in API ``group``."""
        self.faults.denied.append((verb, resource, group))

    def allow(self, verb: str, resource: str, group: str = "") -> None:
        """Undo ``deny``."""
        self.faults.denied = [d for d in self.faults.denied if d != (verb, resource, group)]

    def expire_tokens(self) -> str:
        """Every token issued so far answers 401 Unauthorized; returns a fresh valid one
        (``emu.token``) for a new kubeconfig."""
        with self._lock:
            self._tokens.clear()
            self.token = secrets.token_hex(16)
            self._tokens.add(self.token)
            return self.token

    def reject_create(self, resource: str, message: str) -> None:
        """Creating ``resource`` (plural or ``plural.group``), through the API or by a fake
        controller, answers 403 Forbidden ``<resource> "<name>" is forbidden: <message>``
        (e.g. ``exceeded quota: team-quota, requested: ..., used: ..., limited: ...``)."""
        self.store.reject_rules.append((resource, message))

    def uninstall(self, group: str, version: str, plural: str) -> None:
        """Make a CRD look not installed: 404 on its paths, absent from discovery.
        (Objects stay in the store, invisible; ``install`` brings them back.)"""
        key = f"{plural}.{group}" if group else plural
        if key not in self.store.types:
            raise KeyError(key)
        self.faults.uninstalled.add(key)

    def install(self, group: str, version: str, plural: str) -> None:
        self.faults.uninstalled.discard(f"{plural}.{group}" if group else plural)

    def compact(self) -> None:
        """Forget the history: watches from an older resourceVersion get a 410 ERROR event,
        continue tokens from before answer 410."""
        self.store.compact()

    def reset_faults(self) -> None:
        self.faults = Faults()
        self.store.reject_rules.clear()

    # -------------------- request handling

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self.requests.append(rec)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            return header[len("Bearer ") :].strip() in self._tokens

    def handle(self, h: Handler) -> None:
        parsed = urlsplit(h.path)
        path = "/" + parsed.path.strip("/")
        query = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        is_watch = flag(query, "watch")
        rec = RequestRecord(h.command, path, query, is_watch, 0)
        h.record = rec
        try:
            # Read the body first, so an early error leaves the keep-alive connection clean.
            h.body = h.read_body() if h.command in ("POST", "PUT", "PATCH", "DELETE") else b""
            self._dispatch(h, path, query, rec)
        except ApiError as exc:
            h.send_json(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        except Exception as exc:  # noqa: BLE001 - an emulator bug: answer 500, print it
            traceback.print_exc(file=sys.stderr)
            err = ApiError(500, "InternalError", f"Internal error occurred: {exc!r}", {})
            with contextlib.suppress(OSError):
                h.send_json(500, err.status())
        finally:
            if not rec.status:
                rec.status = h.sent_status or 0
                self.record(rec)

    def _dispatch(self, h: Handler, path: str, query: dict[str, str], rec: RequestRecord) -> None:
        parts = [p for p in path.split("/") if p]
        if parts in (["healthz"], ["readyz"], ["livez"]):
            h.send_text(200, "ok")
            return
        if parts == ["version"]:
            h.send_json(200, version())
            return
        if not self._authorized(h.headers.get("Authorization")):
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if not parts:
            h.send_json(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]})
            return
        if parts[0] not in ("api", "apis"):
            raise not_found_resource()
        if (parts[0] == "api" and len(parts) <= 2) or (parts[0] == "apis" and len(parts) <= 3):
            if h.command != "GET":
                raise method_not_allowed()
            h.send_json(200, discovery(parts, self._visible_types(), self.url))
            return
        route = parse_route(parts, self.store, self.faults)
        rec.resource, rec.group, rec.namespace = (
            route.rtype.plural,
            route.rtype.group,
            route.namespace,
        )
        rec.name, rec.subresource = route.name, route.subresource
        if route.watch_prefix:
            rec.watch = True
        self._resource(h, route, query, rec)

    def _resource(
        self, h: Handler, route: Route, query: dict[str, str], rec: RequestRecord
    ) -> None:
        verb = verb_of(h.command, route, rec.watch)
        rec.verb = verb
        if not verb:
            raise method_not_allowed()
        self.faults.check_rbac(self.user, verb, route)
        if route.rtype.namespaced and not route.namespace and verb not in ("list", "watch"):
            raise not_found_resource()
        if verb == "get" and route.subresource == "log":
            serve_pod_log(h, self.store, route, query, self._is_stopping)
        elif route.subresource == "proxy":
            serve_pod_proxy(h, self.store, route)
        elif verb == "watch":
            serve_watch(
                h,
                self.store,
                route,
                query,
                bookmark_interval=self.bookmark_interval,
                stopping=self._is_stopping,
            )
        else:
            VERBS[verb](h, self.store, route, query)

    def _visible_types(self) -> list[ResourceType]:
        return [t for t in self.store.types.values() if self.faults.installed(t)]

    def _is_stopping(self) -> bool:
        return self._stopping


def api_client_for(kubeconfig: Path) -> Any:
    """A fresh ``kubernetes.client.ApiClient`` loaded from a kubeconfig file with the real
    ``config.load_kube_config`` (the global default configuration is left alone)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)
