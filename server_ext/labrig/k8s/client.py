"""Talking to the Kubernetes API with the official client: which configuration (in-cluster or a
kubeconfig), one generic call for any kind (objects stay plain JSON dicts, as the manifests are
built), list + watch streams, and every failure turned into one clear sentence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import CapacityExceeded, Conflict, InvalidInput, LabrigError, NotFound, Unavailable

#: (connect, read) seconds for one request; watches set their own read timeout.
TIMEOUT = (5.0, 30.0)


class ClusterRefused(LabrigError):
    """The cluster refused for a reason that waiting will not fix: RBAC, a missing namespace or
    custom resource definition. The message names what to change."""

    reason = "cluster_refused"


@dataclass(frozen=True)
class Kind:
    """A Kubernetes resource type, enough to build its paths."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def title(self) -> str:
        """How the API server names it in messages: ``pytorchjobs.kubeflow.org``, ``pods``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if sub:
            parts.append(sub)
        return "/".join(parts)


PYTORCHJOB = Kind("PyTorchJob", "kubeflow.org", "v1", "pytorchjobs")
TRAINJOB = Kind("TrainJob", "trainer.kubeflow.org", "v1alpha1", "trainjobs")
WORKLOAD = Kind("Workload", "kueue.x-k8s.io", "v1beta2", "workloads")
POD = Kind("Pod", "", "v1", "pods")
CONFIGMAP = Kind("ConfigMap", "", "v1", "configmaps")
NODE = Kind("Node", "", "v1", "nodes", namespaced=False)


def api_client(kubeconfig: str = "", context: str = "") -> Any:
    """An ApiClient from ``kubeconfig`` (a path), else the pod's service account when running in
    a cluster, else ``$KUBECONFIG`` / ``~/.kube/config``."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if kubeconfig:
            config.load_kube_config(
                config_file=kubeconfig,
                context=context or None,
                client_configuration=configuration,
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(context=context or None, client_configuration=configuration)
    except (ConfigException, OSError, TypeError) as err:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise Unavailable(
            f"no usable Kubernetes configuration ({where}): {err}. Set "
            "KubernetesJobBackend.kubeconfig, or run the server in a pod with a service account"
        ) from err
    configuration.retries = 0
    return client.ApiClient(configuration)


def _status_message(body: Any) -> tuple[str, dict[str, Any]]:
    try:
        status = json.loads(body) if isinstance(body, str | bytes) else {}
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    return str(status.get("message") or body or "").strip(), status


def explain(err: Exception, verb: str, kind: Kind, namespace: str, host: str) -> LabrigError:
    """One sentence for a failed call, saying what was refused and what to do."""
    from kubernetes.client.exceptions import ApiException

    if not isinstance(err, ApiException):
        return Unavailable(
            f"the Kubernetes API server at {host} cannot be reached ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}); check that the cluster is up and "
            "KubernetesJobBackend.kubeconfig points at it"
        )
    message, status = _status_message(err.body)
    where = f"in namespace {namespace}" if kind.namespaced else "in the cluster"
    if err.status == 401:
        return Unavailable(
            f"the Kubernetes API server at {host} refused labrig's credentials (401 "
            "Unauthorized): the token or certificate has expired or is wrong; renew the "
            "kubeconfig or the service account token"
        )
    if err.status == 403 and "exceeded quota" in message:
        return CapacityExceeded(f"the namespace's ResourceQuota refused the {kind.kind}: {message}")
    if err.status == 403:
        return ClusterRefused(
            f"Kubernetes RBAC forbids labrig to {verb} {kind.title} {where} ({message}); "
            "grant that verb in labrig's Role (see examples/kubernetes/rbac.yaml)"
        )
    if err.status == 404:
        details = status.get("details") or {}
        if details.get("kind") == "namespaces" or message.startswith("namespaces "):
            return ClusterRefused(
                f"namespace {namespace} does not exist in the cluster; set "
                "KubernetesJobBackend.namespace to an existing one"
            )
        if not details.get("name"):
            return ClusterRefused(
                f"{kind.kind} ({kind.api_version}) is not installed in this cluster; install "
                f"its operator and CRD, or choose another KubernetesJobBackend.job_api"
            )
        return NotFound(message or f"{kind.kind} not found")
    if err.status == 409:
        return Conflict(message or f"the {kind.kind} already exists")
    if err.status in (400, 422):
        return InvalidInput(f"the cluster rejected the {kind.kind}: {message}")
    return Unavailable(
        f"the Kubernetes API server at {host} failed to {verb} {kind.title} "
        f"({err.status} {err.reason}): {message[:300]}"
    )


class Kube:
    """Calls for any kind in one namespace, with JSON dicts in and out."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.host = str(getattr(api.configuration, "host", "the cluster"))

    def call(
        self,
        method: str,
        kind: Kind,
        name: str | None = None,
        *,
        sub: str | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        verb: str | None = None,
        text: bool = False,
        stream: bool = False,
        timeout: Any = TIMEOUT,
    ) -> Any:
        headers = {"Accept": "text/plain" if text else "application/json"}
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        elif body is not None:
            headers["Content-Type"] = "application/json"
        try:
            return self.api.call_api(
                kind.path(self.namespace, name, sub),
                method,
                query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
                header_params=headers,
                body=body,
                response_types_map={code: "str" if text else "object" for code in (200, 201, 202)},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=not stream,
                _request_timeout=timeout,
            )
        except Exception as err:
            raise explain(
                err, verb or _VERBS.get(method, method), kind, self.namespace, self.host
            ) from err

    def list(self, kind: Kind, selector: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.call(
            "GET", kind, query={"labelSelector": selector}, verb="list"
        )
        return found

    def get(self, kind: Kind, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", kind, name)
        return found

    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = self.call("POST", kind, body=body)
        return made

    def patch(self, kind: Kind, name: str, body: dict[str, Any]) -> dict[str, Any]:
        patched: dict[str, Any] = self.call("PATCH", kind, name, body=body)
        return patched

    def delete(self, kind: Kind, name: str, propagation: str = "Foreground") -> None:
        try:
            self.call(
                "DELETE",
                kind,
                name,
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": propagation,
                },
            )
        except NotFound:
            return  # already gone: deleting is idempotent

    def pod_log(self, name: str, container: str) -> str:
        text: str = self.call(
            "GET", POD, name, sub="log", query={"container": container}, text=True
        )
        return text

    def watch(
        self, kind: Kind, resource_version: str, selector: str | None, seconds: int
    ) -> Iterator[dict[str, Any]]:
        """The changes after ``resource_version`` as ``{"type", "object"}`` events, for up to
        ``seconds``. A resource version the server no longer has ends it with ``Gone``."""
        from kubernetes import watch

        def list_call(**kwargs: Any) -> Any:
            """Lists the kind (the watch helper adds watch=true and streams)."""
            query = {
                "labelSelector": selector,
                "resourceVersion": kwargs.get("resource_version"),
                "timeoutSeconds": kwargs.get("timeout_seconds"),
                "allowWatchBookmarks": "true",
                "watch": "true",
            }
            return self.call(
                "GET", kind, query=query, verb="watch", stream=True, timeout=(5.0, seconds + 30)
            )

        stream = watch.Watch()
        try:
            for event in stream.stream(
                list_call, resource_version=resource_version, timeout_seconds=seconds
            ):
                yield {"type": event["type"], "object": event["raw_object"]}
        except LabrigError:
            raise
        except Exception as err:
            if getattr(err, "status", None) == 410:
                raise Gone(str(err)) from err
            raise explain(err, "watch", kind, self.namespace, self.host) from err
        finally:
            stream.stop()


class Gone(Exception):
    """The watch asked for history the server no longer keeps: list again (410 Gone)."""


_VERBS = {"GET": "get", "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
