"""Schema validation of Kubernetes manifests, as strict as an API server.

- Custom resources (``custom``): against the ``openAPIV3Schema`` of the pinned CRD files
  (``crds``: ``<repo>/../shared/k8s/crds``) with ``jsonschema``, rejecting unknown fields
  like the API server's strict field validation. CEL rules (``x-kubernetes-validations``)
  are not enforced; ``x-kubernetes-int-or-string`` accepts an integer or a string;
  ``x-kubernetes-list-type: map``/``set`` reject duplicate keys/items as the server does.
- Core kinds (``core``): against kubernetes-validate's strict schemas for ``K8S_VERSION``.
- ``metadata``: name, labels and annotations are checked the way the API server checks
  them (the CRD schemas only say ``type: object``).

Every failure raises ``ManifestInvalid`` (``errors``) whose message names the field path,
e.g. ``spec.pytorchReplicaSpecs.Master.template.spec.containers[0].foo: unknown field``.
"""

from __future__ import annotations

from typing import Any

from .core import CORE_GROUPS, K8S_VERSION, core_errors, validate_core
from .crds import CRDInfo, CRDVersion, crd_infos, crds_dir
from .custom import (
    apply_defaults,
    crd_schema,
    custom_errors,
    prune_nulls,
    validate_custom,
)
from .errors import FieldError, ManifestInvalid, format_path
from .metadata import (
    dns1035_label_error,
    dns1123_label_error,
    dns1123_subdomain_error,
    identity,
    split_api_version,
    validate_metadata,
)

__all__ = [
    "CORE_GROUPS",
    "K8S_VERSION",
    "CRDInfo",
    "CRDVersion",
    "FieldError",
    "ManifestInvalid",
    "apply_defaults",
    "core_errors",
    "crd_infos",
    "crd_schema",
    "crds_dir",
    "custom_errors",
    "dns1035_label_error",
    "dns1123_label_error",
    "dns1123_subdomain_error",
    "format_path",
    "prune_nulls",
    "split_api_version",
    "validate",
    "validate_core",
    "validate_custom",
    "validate_metadata",
]


def validate(obj: dict[str, Any]) -> None:
    """Validate any manifest: built-in kinds with ``validate_core``, others against the
    pinned CRDs with ``validate_custom``."""
    group, _, _, _ = identity(obj)
    if group in CORE_GROUPS:
        validate_core(obj)
    else:
        validate_custom(obj)
