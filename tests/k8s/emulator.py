"""``ApiEmulator``: a Kubernetes API server on loopback for the real ``kubernetes`` client.

Standard library HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, chunked watch
and log streams) over the thread-safe ``Store``. It serves the core kinds in
``store.CORE_TYPES`` and every kind of the pinned CRDs, with discovery, strict schema
validation (422 naming the field), label/field selectors, pagination, watches with
bookmarks and 410 after ``compact()``, cascading deletion, bearer-token auth (401),
RBAC denials (403), admission rejections (403), and the pod log endpoint fed by the fake
kubelet. See ``DIFFERENCES`` for what a real API server does otherwise.

    emu = ApiEmulator(namespaces=("default", "ml"))
    emu.start()
    config.load_kube_config(config_file=str(emu.kubeconfig(tmp_path / "kubeconfig")))
    ...
    emu.stop()
"""

from __future__ import annotations

import contextlib
import json
import secrets
import select
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import kube, validation
from .store import (
    CORE_TYPES,
    ApiError,
    ResourceType,
    Store,
    Watcher,
    custom_types,
    encode,
    not_found_resource,
)

DIFFERENCES = """\
Known differences from a real kube-apiserver:
- Pods are removed at once on delete (the response carries deletionTimestamp); there is no
  Terminating phase. The fake kubelet then kills their processes (SIGTERM, then SIGKILL).
- Foreground/background cascading deletion is done synchronously inside the DELETE request
  (events arrive in the real order: owner MODIFIED, dependents DELETED, owner DELETED).
- Unknown fields are always rejected (as with fieldValidation=Strict), answered 422 Invalid
  rather than the 400 "strict decoding error" a real server gives.
- Strategic merge patch is a subset (maps merge; containers/env/volumes/ports/conditions
  merge by key; $patch: delete/replace); server-side apply is create-or-merge-patch.
- Lists with continue tokens are not snapshots: a continued list sees current objects after
  the last key (a real server serves the snapshot at the first page's resourceVersion).
- Kueue v1beta1 and v1beta2 share storage without conversion (only apiVersion is rewritten).
- No admission webhooks beyond what FakeCluster registers; no RBAC beyond deny() rules;
  no managedFields; CEL validation rules in CRDs are not enforced.
- Built-in admission: the ResourceQuota check for pods (requests.*, limits.*, pods) and
  defaults for pods (restartPolicy, dnsPolicy, schedulerName, tolerations, requests from
  limits, qosClass ...), secrets (stringData -> data) and namespaces; no LimitRanger.
- A PUT to a pod may only change images, activeDeadlineSeconds and tolerations (like a real
  server); other core kinds accept any change.
- The log endpoint serves what the fake kubelet wrote; `previous=true` always answers 400
  (containers never restart).
- Known client quirks (kubernetes 36, not the emulator's): read_namespaced_pod_log returns
  the repr of bytes (use _preload_content=False), CustomObjectsApi.patch_* sends merge
  patch unless _content_type says otherwise, responses other than 200 (e.g. 201 from an
  apply that creates) deserialize to None.
"""


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
class _Route:
    group: str
    version: str
    rtype: ResourceType
    namespace: str
    name: str
    subresource: str
    watch_prefix: bool


@dataclass
class _Faults:
    denied: list[tuple[str, str, str]] = field(default_factory=list)  # verb, resource, group
    uninstalled: set[str] = field(default_factory=set)  # resource type keys


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(addr, handler)
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


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
    ) -> None:
        self.store = Store([*CORE_TYPES, *custom_types(installed)])
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
        self.faults = _Faults()
        self._lock = threading.Lock()
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -------------------- lifecycle

    def start(self) -> ApiEmulator:
        emu = self

        class Handler(_Handler):
            emulator = emu

        self._server = _Server((self._host, self._port), Handler)
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
        self.faults = _Faults()
        self.store.reject_rules.clear()

    # -------------------- request handling

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self.requests.append(rec)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            return header[len("Bearer ") :].strip() in self._tokens

    def _installed(self, rtype: ResourceType) -> bool:
        return rtype.key not in self.faults.uninstalled

    def _check_rbac(self, verb: str, route: _Route) -> None:
        resource = route.rtype.plural + (f"/{route.subresource}" if route.subresource else "")
        for d_verb, d_resource, d_group in self.faults.denied:
            if d_verb not in ("*", verb) or d_resource not in ("*", resource):
                continue
            if d_group not in ("*", route.rtype.group):
                continue
            target = f'{route.rtype.key} "{route.name}"' if route.name else route.rtype.key
            scope = (
                f'in the namespace "{route.namespace}"'
                if route.namespace
                else "at the cluster scope"
            )
            details: dict[str, Any] = {"group": route.rtype.group, "kind": route.rtype.plural}
            if route.name:
                details = {"name": route.name, **details}
            raise ApiError(
                403,
                "Forbidden",
                f'{target} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" '
                f'in API group "{route.rtype.group}" {scope}',
                details,
            )

    # discovery ----------------------------------------------------------

    def _visible_types(self) -> list[ResourceType]:
        return [t for t in self.store.types.values() if self._installed(t)]

    def _resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        resources: list[dict[str, Any]] = []
        for t in self._visible_types():
            if t.group != group or version not in t.all_versions:
                continue
            entry: dict[str, Any] = {
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": list(t.verbs),
            }
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            if t.custom:
                entry["categories"] = ["all"] if t.kind in ("PyTorchJob", "TrainJob") else []
            entry["storageVersionHash"] = ""
            resources.append(entry)
            for sub in sorted(t.subresources):
                sub_entry: dict[str, Any] = {
                    "name": f"{t.plural}/{sub}",
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": ["get", "patch", "update"],
                }
                if sub == "log":
                    sub_entry["verbs"] = ["get"]
                elif sub == "binding":
                    sub_entry.update(kind="Binding", verbs=["create"])
                elif sub == "eviction":
                    sub_entry.update(
                        group="policy", version="v1", kind="Eviction", verbs=["create"]
                    )
                elif sub == "scale":
                    sub_entry.update(group="autoscaling", version="v1", kind="Scale")
                elif sub == "finalize":
                    sub_entry["verbs"] = ["update"]
                resources.append(sub_entry)
        if not resources:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _groups(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, dict[str, Any]] = {}
        for t in self._visible_types():
            if not t.group:
                continue
            g = groups.setdefault(
                t.group, {"name": t.group, "versions": [], "preferredVersion": None}
            )
            for v in t.all_versions:
                gv = {"groupVersion": f"{t.group}/{v}", "version": v}
                if gv not in g["versions"]:
                    g["versions"].append(gv)
            if g["preferredVersion"] is None:
                g["preferredVersion"] = {
                    "groupVersion": f"{t.group}/{t.version}",
                    "version": t.version,
                }
        for g in groups.values():
            g["versions"].sort(key=lambda v: v["version"] != g["preferredVersion"]["version"])
        return groups

    def _discovery(self, parts: list[str]) -> dict[str, Any]:
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.url.split("//", 1)[1]}
                ],
            }
        if parts == ["api", "v1"]:
            found = self._resource_list("", "v1")
            assert found is not None
            return found
        if parts == ["apis"]:
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": list(self._groups().values()),
            }
        if len(parts) == 2 and parts[0] == "apis":
            group = self._groups().get(parts[1])
            if group is None:
                raise not_found_resource()
            return {"kind": "APIGroup", "apiVersion": "v1", **group}
        if len(parts) == 3 and parts[0] == "apis":
            found = self._resource_list(parts[1], parts[2])
            if found is None:
                raise not_found_resource()
            return found
        raise not_found_resource()

    # routing --------------------------------------------------------------

    def _route(self, parts: list[str]) -> _Route:
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        watch_prefix = False
        if rest and rest[0] == "watch":
            watch_prefix, rest = True, rest[1:]
        if not rest:
            raise not_found_resource()
        ns, name, sub = "", "", ""
        namespaced_path = False
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = self.store.find_type(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespaced_path = True
                ns, plural = rest[1], rest[2]
                name = rest[3] if len(rest) > 3 else ""
                sub = rest[4] if len(rest) > 4 else ""
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
        rtype = self.store.find_type(group, version, plural)
        if rtype is None or not self._installed(rtype):
            raise not_found_resource()
        if namespaced_path and not rtype.namespaced:
            raise not_found_resource()
        if sub and sub not in rtype.subresources:
            raise not_found_resource()
        return _Route(group, version, rtype, ns, name, sub, watch_prefix)

    def handle(self, h: _Handler) -> None:
        parsed = urlsplit(h.path)
        path = "/" + parsed.path.strip("/")
        query = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        is_watch = _flag(query, "watch")
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
                self._record(rec)

    def _dispatch(self, h: _Handler, path: str, query: dict[str, str], rec: RequestRecord) -> None:
        parts = [p for p in path.split("/") if p]
        if parts in (["healthz"], ["readyz"], ["livez"]):
            h.send_text(200, "ok")
            return
        if parts == ["version"]:
            h.send_json(
                200,
                {
                    "major": "1",
                    "minor": validation.K8S_VERSION.split(".")[1],
                    "gitVersion": f"v{validation.K8S_VERSION}.0",
                    "gitCommit": "0000000000000000000000000000000000000000",
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.24.0",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                },
            )
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
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            h.send_json(200, self._discovery(parts))
            return
        route = self._route(parts)
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
        self, h: _Handler, route: _Route, query: dict[str, str], rec: RequestRecord
    ) -> None:
        store, rt, method = self.store, route.rtype, h.command
        ns = route.namespace
        if method == "GET":
            if route.subresource == "log":
                verb = "get"
            elif route.name:
                verb = "watch" if rec.watch else "get"
            else:
                verb = "watch" if rec.watch else "list"
        else:
            verb = {
                "POST": "create",
                "PUT": "update",
                "PATCH": "patch",
                "DELETE": "delete" if route.name else "deletecollection",
            }.get(method, "")
        rec.verb = verb
        if not verb:
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        self._check_rbac(verb, route)
        if rt.namespaced and not ns and verb not in ("list", "watch"):
            raise not_found_resource()

        if verb == "get" and route.subresource == "log":
            self._pod_log(h, route, query)
            return
        if verb == "watch":
            if route.name:
                query = dict(
                    query,
                    fieldSelector=",".join(
                        filter(None, [query.get("fieldSelector"), f"metadata.name={route.name}"])
                    ),
                )
            self._watch(h, route, query)
            return
        if verb == "get":
            h.send_bytes(200, store.get_raw(rt, ns, route.name, route.version))
            return
        if verb == "list":
            limit = int(query.get("limit") or 0)
            body = store.list_raw(
                rt,
                route.version,
                ns or None,
                query.get("labelSelector"),
                query.get("fieldSelector"),
                limit,
                query.get("continue") or None,
            )
            h.send_bytes(200, body)
            return
        body = h.body
        if verb == "create":
            if route.name:
                if route.subresource == "eviction":
                    self._evict(h, route)
                    return
                if route.subresource == "binding":
                    self._bind(h, route, body)
                    return
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            obj = self._json_object(body)
            self._check_identity(rt, route, obj)
            created = store.create(
                rt, obj, ns, internal=False, dry_run=query.get("dryRun") == "All"
            )
            h.send_bytes(201, self._encode(rt, route.version, created))
            return
        if verb == "update":
            obj = self._json_object(body)
            self._check_identity(rt, route, obj)
            name = (obj.get("metadata") or {}).get("name")
            if name != route.name:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the name of the object ({name}) does not match the name on the URL "
                    f"({route.name})",
                )
            updated = store.update(rt, obj, ns, subresource=route.subresource, internal=False)
            h.send_bytes(200, self._encode(rt, route.version, updated))
            return
        if verb == "patch":
            ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype == "application/apply-patch+yaml":
                if not query.get("fieldManager"):
                    raise ApiError(
                        422,
                        "Invalid",
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                        "required for apply patch",
                    )
                try:
                    obj = yaml.safe_load(body.decode() or "{}")
                except yaml.YAMLError as exc:
                    raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from None
                if not isinstance(obj, dict):
                    raise ApiError(400, "BadRequest", "the body of the request must be an object")
                self._check_identity(rt, route, obj)
                applied, was_created = store.apply(rt, ns, route.name, obj, internal=False)
                h.send_bytes(201 if was_created else 200, self._encode(rt, route.version, applied))
                return
            try:
                patch = json.loads(body or b"null")
            except ValueError as exc:
                raise ApiError(400, "BadRequest", f"error decoding patch: {exc}") from None
            patched = store.patch(
                rt, ns, route.name, patch, ctype, subresource=route.subresource, internal=False
            )
            h.send_bytes(200, self._encode(rt, route.version, patched))
            return
        if verb in ("delete", "deletecollection"):
            options: dict[str, Any] = {}
            if body.strip():
                try:
                    options = json.loads(body)
                except ValueError:
                    raise ApiError(400, "BadRequest", "error decoding DeleteOptions") from None
            policy = options.get("propagationPolicy") or query.get("propagationPolicy")
            if policy is None and (
                options.get("orphanDependents") or _flag(query, "orphanDependents")
            ):
                policy = "Orphan"
            grace = options.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
            if verb == "deletecollection":
                deleted = store.delete_collection(
                    rt,
                    ns or None,
                    query.get("labelSelector"),
                    query.get("fieldSelector"),
                    policy,
                    internal=False,
                )
                items = [json.loads(self._encode(rt, route.version, o)) for o in deleted]
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
                h.send_bytes(202 if accepted else 200, self._encode(rt, route.version, response))
            return
        raise ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )

    @staticmethod
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

    @staticmethod
    def _check_identity(rt: ResourceType, route: _Route, obj: dict[str, Any]) -> None:
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

    @staticmethod
    def _encode(rt: ResourceType, version: str, obj: dict[str, Any]) -> bytes:
        body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        return encode(obj.get("kind") or rt.kind, rt.api_version(version), kube.dumps(body))

    # pods: eviction, binding --------------------------------------------------

    def _evict(self, h: _Handler, route: _Route) -> None:
        self.store.delete(route.rtype, route.namespace, route.name, internal=False)
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

    def _bind(self, h: _Handler, route: _Route, body: bytes) -> None:
        binding = self._json_object(body)
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

        if (
            self.store.mutate(route.rtype, route.namespace, route.name, bind, subresource="all")
            is None
        ):
            raise self.store.not_found(route.rtype, route.name)
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

    # watch --------------------------------------------------------------------

    def _watch(self, h: _Handler, route: _Route, query: dict[str, str]) -> None:
        store, rt = self.store, route.rtype
        try:
            labels = kube.parse_label_selector(query.get("labelSelector"))
            fields = kube.parse_field_selector(query.get("fieldSelector"))
        except kube.SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        store.check_field_selector(rt, fields)
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = _flag(query, "allowWatchBookmarks")
        send_initial = _flag(query, "sendInitialEvents")
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
            while not self._stopping:
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
                if bookmarks and time.monotonic() - last_sent >= self.bookmark_interval:
                    h.write_chunk(bookmark(watcher.rv))
                    last_sent = time.monotonic()
            h.end_chunked()
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True

    # logs ---------------------------------------------------------------------

    def _pod_log(self, h: _Handler, route: _Route, query: dict[str, str]) -> None:
        store, ns, name = self.store, route.namespace, route.name
        pod = store.get(route.rtype, ns, name, copy_=False)
        spec = pod.get("spec") or {}
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
        if not spec.get("nodeName"):
            h.send_text(200, "")
            return
        self._check_log_state(pod, container, query)
        path = store.log_files.get((ns, name, container))
        opts = _LogOptions.parse(query)
        if not _flag(query, "follow"):
            h.send_bytes(200, _read_log(path, opts), "text/plain")
            return
        h.start_chunked(200, "text/plain")
        try:
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
                if current is None or self._stopping or _container_finished(current, container):
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
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True

    def _check_log_state(self, pod: dict[str, Any], container: str, query: dict[str, str]) -> None:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        statuses = list(status.get("containerStatuses") or []) + list(
            status.get("initContainerStatuses") or []
        )
        st = next((s for s in statuses if s.get("name") == container), None)
        if _flag(query, "previous") and not (st and (st.get("lastState") or {}).get("terminated")):
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


def _flag(query: dict[str, str], key: str) -> bool:
    """A boolean query parameter (the Python client sends ``True``)."""
    return query.get(key, "").lower() in ("true", "1")


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


# -------------------- log files


@dataclass
class _LogOptions:
    timestamps: bool = False
    since: float | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None

    @classmethod
    def parse(cls, query: dict[str, str]) -> _LogOptions:
        opts = cls(timestamps=_flag(query, "timestamps"))
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


# -------------------- HTTP handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-emulator"
    sys_version = ""
    emulator: ApiEmulator
    record: RequestRecord | None = None
    sent_status: int = 0
    body: bytes = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add 40 ms to every response.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _go(self) -> None:
        self.sent_status = 0
        self.record = None
        self.emulator.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _go

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _begin(self, code: int) -> None:
        self.sent_status = code
        if self.record is not None and not self.record.status:
            self.record.status = code
            self.emulator._record(self.record)
        self.send_response(code)

    def send_bytes(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self._begin(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, code: int, obj: Any) -> None:
        self.send_bytes(code, kube.dumps(obj))

    def send_text(self, code: int, text: str, raw: bytes | None = None) -> None:
        self.send_bytes(code, raw if raw is not None else text.encode(), "text/plain")

    def start_chunked(self, code: int, content_type: str) -> None:
        self._begin(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def client_gone(self) -> bool:
        """True when the client closed the connection (an idle stream notices this way)."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def api_client_for(kubeconfig: Path) -> Any:
    """A fresh ``kubernetes.client.ApiClient`` loaded from a kubeconfig file with the real
    ``config.load_kube_config`` (the global default configuration is left alone)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def iter_watch_lines(data: bytes) -> Iterator[dict[str, Any]]:
    """Parse a raw watch body (for tests that use plain HTTP)."""
    for line in data.splitlines():
        if line.strip():
            yield json.loads(line)
