"""The resource types the store serves: the core kinds and those of the pinned CRDs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .. import validation


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str  # the storage (preferred) version
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    versions: tuple[str, ...] = ()
    custom: bool = False
    list_kind: str = ""
    field_labels: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def key(self) -> str:
        """``pods`` or ``pytorchjobs.kubeflow.org`` (the ``group/resource`` name)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        v = version or self.version
        return f"{self.group}/{v}" if self.group else v

    @property
    def all_versions(self) -> tuple[str, ...]:
        return self.versions or (self.version,)

    @property
    def group_kind(self) -> str:
        """``PyTorchJob.kubeflow.org`` or ``Pod``: how Invalid messages name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)


def _core(
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: Iterable[str] = (),
    fields: tuple[str, ...] = (),
    group: str = "",
    version: str = "v1",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        subresources=frozenset(sub),
        list_kind=kind + "List",
        field_labels=fields,
    )


CORE_TYPES: tuple[ResourceType, ...] = (
    _core(
        "pods",
        "Pod",
        short=("po",),
        sub=("status", "log", "binding", "eviction", "proxy"),
        fields=_POD_FIELDS,
    ),
    _core("configmaps", "ConfigMap", short=("cm",)),
    _core("secrets", "Secret", fields=("type",)),
    _core("events", "Event", short=("ev",), fields=_EVENT_FIELDS),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), sub=("status",)),
    _core(
        "persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",), sub=("status",)
    ),
    _core("services", "Service", short=("svc",), sub=("status",)),
    _core("endpoints", "Endpoints", short=("ep",)),
    _core("serviceaccounts", "ServiceAccount", short=("sa",)),
    _core("resourcequotas", "ResourceQuota", short=("quota",), sub=("status",)),
    _core("limitranges", "LimitRange", short=("limits",)),
    _core(
        "nodes",
        "Node",
        namespaced=False,
        short=("no",),
        sub=("status",),
        fields=("spec.unschedulable",),
    ),
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        short=("ns",),
        sub=("status", "finalize"),
        fields=("status.phase",),
    ),
)


#: The resource metrics API (metrics-server's ``kubectl top pods``), served when an emulator is
#: made with ``metrics=True``; the fake kubelet fills it from the pods' processes.
POD_METRICS = ResourceType(
    group="metrics.k8s.io",
    version="v1beta1",
    plural="pods",
    kind="PodMetrics",
    namespaced=True,
    singular="podmetrics",
    list_kind="PodMetricsList",
    verbs=("get", "list"),
)


def custom_types(installed: Iterable[str] | None = None) -> tuple[ResourceType, ...]:
    """Resource types of the pinned CRDs. ``installed``: CRD names (``pytorchjobs.kubeflow.org``)
    or plurals; None means all of them."""
    wanted = None if installed is None else set(installed)
    out = []
    for info in validation.crd_infos():
        if wanted is not None and info.name not in wanted and info.plural not in wanted:
            continue
        subresources: set[str] = set()
        for v in info.versions:
            subresources |= set(v.subresources)
        out.append(
            ResourceType(
                group=info.group,
                version=info.storage_version,
                plural=info.plural,
                kind=info.kind,
                namespaced=info.namespaced,
                singular=info.singular,
                short_names=info.short_names,
                subresources=frozenset(subresources),
                versions=tuple(v.name for v in info.versions if v.served),
                custom=True,
                list_kind=info.list_kind,
            )
        )
    return tuple(out)
