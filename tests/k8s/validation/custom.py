"""Custom resources against the ``openAPIV3Schema`` of their pinned CRD, with jsonschema:
strict about unknown fields, with the schema's defaults and the server's null pruning."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from typing import Any

import jsonschema

from .crds import find_schema
from .errors import FieldError, ManifestInvalid, collect, format_value
from .metadata import identity, validate_metadata


def _convert(schema: Any) -> Any:
    """A CRD structural schema -> a JSON Schema that closes objects (strict field
    validation), understands int-or-string and nullable, and keeps list-type hints."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("description", "default", "example", "x-kubernetes-validations", "format"):
            continue
        if key == "properties":
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in ("items", "not"):
            out[key] = _convert(value)
        elif key == "additionalProperties":
            out[key] = _convert(value) if isinstance(value, dict) else value
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_convert(sub) for sub in value]
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        if "anyOf" not in out:
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    # OpenAPI 3.0 boolean exclusive bounds -> JSON Schema numbers.
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):
            if out[bound] and plain in out:
                out[bound] = out.pop(plain)
            else:
                out.pop(bound)
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not preserve
        and not schema.get("x-kubernetes-embedded-resource")
    ):
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-embedded-resource") and "properties" in schema and not preserve:
        # Embedded objects carry apiVersion/kind/metadata even when the schema omits them.
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        out["additionalProperties"] = False
    return out


def _list_keys(validator: Any, keys: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    """``x-kubernetes-list-map-keys``: items must be unique by these keys."""
    if not isinstance(instance, list) or schema.get("x-kubernetes-list-type") != "map":
        return
    seen: dict[tuple[Any, ...], int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        key = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
        if key in seen:
            shown = {k: item.get(k) for k in keys if k in item}
            yield jsonschema.ValidationError(
                f"Duplicate value: {format_value(shown)}",
                validator="x-kubernetes-list-map-keys",
                path=[index],
                instance=item,
            )
        else:
            seen[key] = index


def _list_type(
    validator: Any, list_type: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[Any]:
    """``x-kubernetes-list-type: set``: items must be unique."""
    if list_type != "set" or not isinstance(instance, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(instance):
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            yield jsonschema.ValidationError(
                f"Duplicate value: {format_value(item)}",
                validator="x-kubernetes-list-type",
                path=[index],
                instance=item,
            )
        seen.add(key)


_CRDValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"x-kubernetes-list-map-keys": _list_keys, "x-kubernetes-list-type": _list_type},
)

_lock = threading.Lock()
_validators: dict[tuple[str, str, str], Any] = {}
_status_validators: dict[tuple[str, str, str], Any] = {}
_raw_schemas: dict[tuple[str, str, str], dict[str, Any]] = {}


def _custom_validator(group: str, version: str, kind: str) -> Any:
    key = (group, version, kind)
    with _lock:
        found = _validators.get(key)
        if found is None:
            raw = find_schema(group, version, kind)
            converted = _convert(raw)
            # metadata is validated separately (see validate_metadata).
            converted.get("properties", {}).pop("metadata", None)
            converted.setdefault("properties", {})["metadata"] = {"type": "object"}
            found = _CRDValidator(converted)
            _validators[key] = found
            _raw_schemas[key] = raw
            status_schema = converted.get("properties", {}).get("status")
            if isinstance(status_schema, dict):
                _status_validators[key] = _CRDValidator(status_schema)
        return found


def crd_schema(group: str, version: str, kind: str) -> dict[str, Any]:
    """The raw ``openAPIV3Schema`` of a pinned CRD version (shared: do not modify)."""
    _custom_validator(group, version, kind)
    return _raw_schemas[(group, version, kind)]


# --------------------------------------------------------------------------- defaults, nulls


def prune_nulls(obj: Any) -> Any:
    """A copy without ``null`` values in objects: the API server drops nulls of fields that
    are not ``nullable`` before validating custom resources."""
    if isinstance(obj, dict):
        return {k: prune_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [prune_nulls(v) for v in obj]
    return obj


def apply_defaults(obj: Any, schema: dict[str, Any]) -> None:
    """Fill in ``default`` values of the structural schema, in place, as the API server
    does for custom resources on create and update (only under objects that exist)."""
    if isinstance(obj, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                if name not in obj and isinstance(sub, dict) and "default" in sub:
                    obj[name] = copy.deepcopy(sub["default"])
                if name in obj and isinstance(sub, dict):
                    apply_defaults(obj[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name, value in obj.items():
                if not (isinstance(props, dict) and name in props):
                    apply_defaults(value, extra)
    elif isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in obj:
                apply_defaults(item, items)


def custom_errors(obj: dict[str, Any], *, only_status: bool = False) -> list[FieldError]:
    """Field errors of a custom resource against its pinned CRD (empty when valid).
    ``only_status``: check metadata and ``status`` only (the rest is known valid)."""
    group, version, kind, _ = identity(obj)
    validator = _custom_validator(group, version, kind)
    pruned = prune_nulls(obj)
    errors = validate_metadata(pruned.get("metadata"))
    if only_status:
        status_validator = _status_validators.get((group, version, kind))
        if status_validator is not None and "status" in pruned:
            errors += collect(status_validator.iter_errors(pruned["status"]), prefix=["status"])
        return errors
    errors += collect(validator.iter_errors(pruned))
    return errors


def validate_custom(obj: dict[str, Any]) -> None:
    """Validate a custom resource against the pinned CRD of its group, version and kind.

    Unknown fields are rejected (strict field validation); ``null`` values are dropped
    first, as the API server does. Raises ``ManifestInvalid``."""
    _group, _version, kind, name = identity(obj)
    errors = custom_errors(obj)
    if errors:
        raise ManifestInvalid(errors, kind=kind, name=name)
