"""``ApiEmulator``: a Kubernetes API server on loopback for the real ``kubernetes`` client.

Standard library HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, chunked watch
and log streams) over the thread-safe ``Store``. It serves the core kinds in
``store.CORE_TYPES`` and every kind of the pinned CRDs, with discovery, strict schema
validation (422 naming the field), label/field selectors, pagination, watches with
bookmarks and 410 after ``compact()``, cascading deletion, bearer-token auth (401),
RBAC denials (403), admission rejections (403), the pod log endpoint fed by the fake
kubelet, and the pod proxy subresource to the pods' declared ports. See ``DIFFERENCES``
for what a real API server does otherwise.

    emu = ApiEmulator(namespaces=("default", "ml"))
    emu.start()
    config.load_kube_config(config_file=str(emu.kubeconfig(tmp_path / "kubeconfig")))
    ...
    emu.stop()

Modules: ``api_emulator`` (state, lifecycle, test knobs, dispatch), ``handler`` (HTTP),
``routing`` (paths to routes and verbs), ``discovery``, ``verbs`` (get, list, create,
update, patch, delete), ``watch`` and ``logs`` (streams), ``proxy`` (pods/proxy),
``faults`` (RBAC denials, uninstalled CRDs).
"""

from __future__ import annotations

from .api_emulator import ApiEmulator, api_client_for
from .routing import RequestRecord

__all__ = ["DIFFERENCES", "ApiEmulator", "RequestRecord", "api_client_for"]

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
- The pod proxy subresource serves GET only (other methods 405), reaches only declared
  containerPorts (through the loopback port the fake kubelet gave each), and waits
  proxy.TIMEOUT seconds for the pod.
- The log endpoint serves what the fake kubelet wrote; `previous=true` always answers 400
  (containers never restart).
- Known client quirks (kubernetes 36, not the emulator's): read_namespaced_pod_log returns
  the repr of bytes (use _preload_content=False), CustomObjectsApi.patch_* sends merge
  patch unless _content_type says otherwise, responses other than 200 (e.g. 201 from an
  apply that creates) deserialize to None.
"""
