"""Core (built-in) kinds against kubernetes-validate's strict JSON schemas for
``K8S_VERSION``, compiled once per kind."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

import jsonschema

from .errors import FieldError, ManifestInvalid, collect
from .metadata import identity, validate_metadata

# The newest Kubernetes version whose schemas kubernetes-validate 1.37.0 ships.
K8S_VERSION = "1.37"

_lock = threading.Lock()


_core_validators: dict[tuple[str, str, str], Any] = {}


def _core_validator(api_version: str, kind: str, k8s_version: str) -> Any:
    key = (k8s_version, api_version, kind)
    with _lock:
        found = _core_validators.get(key)
        if found is not None:
            return found
    import kubernetes_validate.utils as kvu
    import referencing

    versions = [v for v in kvu.all_versions() if kvu.major_minor(v) <= kvu.major_minor(k8s_version)]
    if not versions:
        raise ValueError(f"kubernetes-validate has no schemas for {k8s_version}")
    schema_dir = f"v{versions[-1]}-local-strict"
    slug = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kvu.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{slug}.json", k8s_version
        )
    except FileNotFoundError:
        raise ManifestInvalid(
            [
                FieldError(
                    "kind",
                    "Invalid value",
                    f"no schema for {kind} {api_version} in Kubernetes {k8s_version}",
                    kind,
                    True,
                )
            ]
        ) from None
    definitions = _core_definitions(schema_dir, k8s_version)
    registry: Any = referencing.Resource.from_contents(schema) @ referencing.Registry()
    registry = definitions @ registry
    found = jsonschema.Draft202012Validator(schema, registry=registry)
    with _lock:
        _core_validators[key] = found
    return found


@functools.lru_cache(maxsize=4)
def _core_definitions(schema_dir: str, k8s_version: str) -> Any:
    import kubernetes_validate.utils as kvu
    import referencing

    return referencing.Resource.from_contents(
        kvu.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", k8s_version)
    )


def core_errors(obj: dict[str, Any], k8s_version: str = K8S_VERSION) -> list[FieldError]:
    """Field errors of a core (built-in) kind, strict (empty when valid)."""
    _, _, kind, _ = identity(obj)
    validator = _core_validator(obj["apiVersion"], kind, k8s_version)
    errors = validate_metadata(obj.get("metadata"))
    errors += [e for e in collect(validator.iter_errors(obj)) if not e.path.startswith("metadata.")]
    return errors


def validate_core(obj: dict[str, Any], k8s_version: str = K8S_VERSION) -> None:
    """Validate a built-in kind with kubernetes-validate's strict schemas for
    ``k8s_version`` (the same schema files and validator class that
    ``kubernetes_validate.validate(obj, version, strict=True)`` uses, compiled once per kind
    so it costs about a millisecond), plus label/annotation syntax. Raises
    ``ManifestInvalid`` with every error, not just the first."""
    _, _, kind, name = identity(obj)
    errors = core_errors(obj, k8s_version)
    if errors:
        raise ManifestInvalid(errors, kind=kind, name=name)


CORE_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "resource.k8s.io",
    }
)
