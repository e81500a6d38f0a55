"""Schema validation of Kubernetes manifests, as strict as an API server.

- Custom resources: against the ``openAPIV3Schema`` of the pinned CRD files
  (``<repo>/../shared/k8s/crds``) with ``jsonschema``, rejecting unknown fields like the
  API server's strict field validation. CEL rules (``x-kubernetes-validations``) are not
  enforced; ``x-kubernetes-int-or-string`` accepts an integer or a string;
  ``x-kubernetes-list-type: map``/``set`` reject duplicate keys/items as the server does.
- Core kinds: against kubernetes-validate's strict schemas for ``K8S_VERSION``.
- ``metadata``: name, labels and annotations are checked the way the API server checks
  them (the CRD schemas only say ``type: object``).

Every failure raises ``ManifestInvalid`` whose message names the field path, e.g.
``spec.pytorchReplicaSpecs.Master.template.spec.containers[0].foo: unknown field``.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# The newest Kubernetes version whose schemas kubernetes-validate 1.37.0 ships.
K8S_VERSION = "1.37"

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# --------------------------------------------------------------------------- errors


@dataclass
class FieldError:
    """One problem at one field, formatted like apimachinery's ``field.Error``."""

    path: str
    type: str  # "unknown field", "Invalid value", "Required value", "Unsupported value", ...
    detail: str = ""
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        text = f"{self.path}: {self.type}" if self.path else self.type
        if self.has_value:
            text += f": {_format_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    @property
    def reason(self) -> str:
        """The ``details.causes[].reason`` the API server uses for this error type."""
        return {
            "unknown field": "FieldValueUnknown",
            "Required value": "FieldValueRequired",
            "Unsupported value": "FieldValueNotSupported",
            "Duplicate value": "FieldValueDuplicate",
            "Too long": "FieldValueTooLong",
            "Too many": "FieldValueTooMany",
            "Forbidden": "FieldValueForbidden",
        }.get(self.type, "FieldValueInvalid")


class ManifestInvalid(ValueError):
    """A manifest the API server would reject; ``str()`` names the field path(s)."""

    def __init__(self, errors: list[FieldError], kind: str = "", name: str = "") -> None:
        self.errors = errors
        self.kind = kind
        self.name = name
        text = ", ".join(str(e) for e in errors)
        super().__init__(f"[{text}]" if len(errors) > 1 else text)

    @property
    def field(self) -> str:
        """The path of the first error."""
        return self.errors[0].path if self.errors else ""


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def format_path(parts: Any) -> str:
    """``["spec", "containers", 0, "foo"]`` -> ``spec.containers[0].foo``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# --------------------------------------------------------------------------- CRD files


def crds_dir() -> Path:
    """Where the pinned CRDs are: ``$LABRIG_CRDS_DIR``, ``<repo>/../shared/k8s/crds``, or
    ``/work/shared/k8s/crds``; the first that exists."""
    env = os.environ.get("LABRIG_CRDS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    repo = here.parents[2]  # tests/k8s/validation.py -> <repo>
    candidates = [repo.parent / "shared" / "k8s" / "crds"]
    # A git worktree (/work/wt/<name>) or a clone nested one level deeper.
    candidates += [p / "shared" / "k8s" / "crds" for p in repo.parents]
    candidates.append(Path("/work/shared/k8s/crds"))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "pinned CRDs not found: set LABRIG_CRDS_DIR or provide <repo>/../shared/k8s/crds"
    )


@dataclass(frozen=True)
class CRDVersion:
    name: str
    served: bool
    storage: bool
    subresources: frozenset[str]
    deprecated: bool = False


@dataclass(frozen=True)
class CRDInfo:
    """What a CustomResourceDefinition says about its resource."""

    group: str
    kind: str
    plural: str
    singular: str
    list_kind: str
    namespaced: bool
    short_names: tuple[str, ...]
    versions: tuple[CRDVersion, ...]
    path: Path = field(compare=False)

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def storage_version(self) -> str:
        return next(v.name for v in self.versions if v.storage)

    def version(self, name: str) -> CRDVersion | None:
        return next((v for v in self.versions if v.name == name and v.served), None)


@functools.lru_cache(maxsize=1)
def _crd_documents() -> dict[str, dict[str, Any]]:
    """CRD documents by file name (parsed once per process: about 0.5 s for all of them)."""
    docs = {}
    for path in sorted(crds_dir().glob("*.yaml")):
        with path.open("rb") as fh:
            doc = yaml.load(fh, Loader=_YamlLoader)
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            doc["__path__"] = str(path)
            docs[path.name] = doc
    return docs


@functools.lru_cache(maxsize=1)
def crd_infos() -> tuple[CRDInfo, ...]:
    """Every pinned CRD, as ``CRDInfo``."""
    infos = []
    for doc in _crd_documents().values():
        spec = doc["spec"]
        names = spec["names"]
        versions = tuple(
            CRDVersion(
                name=v["name"],
                served=bool(v.get("served", True)),
                storage=bool(v.get("storage", False)),
                subresources=frozenset((v.get("subresources") or {}).keys()),
                deprecated=bool(v.get("deprecated", False)),
            )
            for v in spec["versions"]
        )
        infos.append(
            CRDInfo(
                group=spec["group"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                list_kind=names.get("listKind", names["kind"] + "List"),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                versions=versions,
                path=Path(doc["__path__"]),
            )
        )
    return tuple(infos)


def find_crd(group: str, kind: str) -> CRDInfo | None:
    return next((c for c in crd_infos() if c.group == group and c.kind == kind), None)


def _crd_schema(group: str, version: str, kind: str) -> dict[str, Any]:
    for doc in _crd_documents().values():
        spec = doc["spec"]
        if spec["group"] == group and spec["names"]["kind"] == kind:
            for v in spec["versions"]:
                if v["name"] == version:
                    schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
                    return schema
            served = ", ".join(v["name"] for v in spec["versions"])
            raise ManifestInvalid(
                [
                    FieldError(
                        "apiVersion",
                        "Unsupported value",
                        f"supported versions: {served}",
                        f"{group}/{version}",
                        True,
                    )
                ]
            )
    raise ManifestInvalid(
        [FieldError("kind", "Invalid value", f"no pinned CRD for {kind}.{group}", kind, True)]
    )


# --------------------------------------------------------------------------- schema conversion


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
                f"Duplicate value: {_format_value(shown)}",
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
                f"Duplicate value: {_format_value(item)}",
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
            raw = _crd_schema(group, version, kind)
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


# --------------------------------------------------------------------------- error conversion


def _schema_type(schema: Any) -> str:
    t = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), t[0])
    return str(t) if t else "object"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _field_errors(error: Any, prefix: list[Any] | None = None) -> list[FieldError]:
    """One jsonschema error -> API-server style field errors."""
    if prefix:
        error.path.extendleft(reversed(prefix))
    if error.context and error.validator in ("anyOf", "oneOf"):
        # int-or-string and friends: report the type mismatch plainly.
        types = []
        for sub in error.validator_value:
            types.append(_schema_type(sub) if isinstance(sub, dict) else "object")
        path = format_path(error.absolute_path)
        wanted = " or ".join(dict.fromkeys(types))
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body must be of type {wanted}: "
                f"{json.dumps(_json_type(error.instance))}",
                _json_type(error.instance),
                True,
            )
        ]
    path_parts = list(error.absolute_path)
    path = format_path(path_parts)
    kind = error.validator
    value = error.instance
    if kind == "additionalProperties" and error.validator_value is False:
        known = set(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        extras = [k for k in value if k not in known and not any(re.search(p, k) for p in patterns)]
        return [FieldError(format_path([*path_parts, k]), "unknown field") for k in sorted(extras)]
    if kind == "required":
        missing = [r for r in error.validator_value if r not in value]
        return [FieldError(format_path([*path_parts, m]), "Required value") for m in missing]
    if kind == "type":
        wanted = error.validator_value
        if isinstance(wanted, list):
            wanted = next((w for w in wanted if w != "null"), wanted[0])
        got = _json_type(value)
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body must be of type {wanted}: {json.dumps(got)}",
                got,
                True,
            )
        ]
    if kind == "enum":
        allowed = ", ".join(_format_value(v) for v in error.validator_value if v is not None)
        return [FieldError(path, "Unsupported value", f"supported values: {allowed}", value, True)]
    if kind == "pattern":
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body should match '{error.validator_value}'",
                value,
                True,
            )
        ]
    if kind == "maxLength":
        return [FieldError(path, "Too long", f"may not be more than {error.validator_value} bytes")]
    if kind == "maxItems":
        return [FieldError(path, "Too many", f"must have at most {error.validator_value} items")]
    if kind in ("minimum", "exclusiveMinimum"):
        op = "greater than or equal to" if kind == "minimum" else "greater than"
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body should be {op} {error.validator_value}",
                value,
                True,
            )
        ]
    if kind in ("maximum", "exclusiveMaximum"):
        op = "less than or equal to" if kind == "maximum" else "less than"
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body should be {op} {error.validator_value}",
                value,
                True,
            )
        ]
    if kind in ("x-kubernetes-list-map-keys", "x-kubernetes-list-type"):
        return [FieldError(path, "Duplicate value", "", value, True)]
    if kind in ("minLength", "minItems", "minProperties"):
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body should have at least {error.validator_value} "
                + (
                    "chars long"
                    if kind == "minLength"
                    else "items"
                    if kind == "minItems"
                    else "properties"
                ),
                value,
                True,
            )
        ]
    return [FieldError(path, "Invalid value", error.message, value, True)]


def _collect(errors: Any, prefix: list[Any] | None = None) -> list[FieldError]:
    out: list[FieldError] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))):
        for fe in _field_errors(error, prefix):
            if all(str(fe) != str(x) for x in out):
                out.append(fe)
    return out


# --------------------------------------------------------------------------- metadata

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_TYPE_NAMES = {str: "string", int: "integer", dict: "object", list: "array"}

_METADATA_FIELDS = {
    "name": str,
    "generateName": str,
    "namespace": str,
    "selfLink": str,
    "uid": str,
    "resourceVersion": str,
    "generation": int,
    "creationTimestamp": str,
    "deletionTimestamp": str,
    "deletionGracePeriodSeconds": int,
    "labels": dict,
    "annotations": dict,
    "ownerReferences": list,
    "finalizers": list,
    "managedFields": list,
}


def dns1123_subdomain_error(value: str) -> str | None:
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.match(value):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    return None


def dns1123_label_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.match(value):
        return (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    return None


def dns1035_label_error(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1035_LABEL.match(value):
        return (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return None


def _qualified_name_errors(key: str) -> list[str]:
    errs = []
    name = key
    if "/" in key:
        prefix, name = key.split("/", 1)
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            err = dns1123_subdomain_error(prefix)
            if err:
                errs.append(f"prefix part {err}")
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return errs


def validate_metadata(meta: Any, path: str = "metadata") -> list[FieldError]:
    """Field errors of an ObjectMeta: field types, unknown fields, label and annotation
    syntax (as the API server's ObjectMeta validation)."""
    errors: list[FieldError] = []
    if meta is None:
        return errors
    if not isinstance(meta, dict):
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body must be of type object",
                _json_type(meta),
                True,
            )
        ]
    for key, value in meta.items():
        want = _METADATA_FIELDS.get(key)
        sub = f"{path}.{key}"
        if want is None:
            errors.append(FieldError(sub, "unknown field"))
            continue
        if value is None:
            continue
        if want is int and (isinstance(value, bool) or not isinstance(value, int)):
            errors.append(FieldError(sub, "Invalid value", "must be an integer", value, True))
        elif want is not int and not isinstance(value, want):
            errors.append(
                FieldError(
                    sub,
                    "Invalid value",
                    f"{sub} in body must be of type {_TYPE_NAMES[want]}",
                    _json_type(value),
                    True,
                )
            )
    labels = meta.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            for err in _qualified_name_errors(str(key)):
                errors.append(FieldError(f"{path}.labels", "Invalid value", err, key, True))
            if not isinstance(value, str):
                errors.append(
                    FieldError(
                        f"{path}.labels.{key}",
                        "Invalid value",
                        f"{path}.labels.{key} in body must be of type string",
                        _json_type(value),
                        True,
                    )
                )
            elif len(value) > 63:
                errors.append(
                    FieldError(
                        f"{path}.labels",
                        "Invalid value",
                        "must be no more than 63 characters",
                        value,
                        True,
                    )
                )
            elif not _LABEL_VALUE.match(value):
                errors.append(
                    FieldError(
                        f"{path}.labels",
                        "Invalid value",
                        "a valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                        "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                        value,
                        True,
                    )
                )
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            for err in _qualified_name_errors(str(key).lower()):
                errors.append(FieldError(f"{path}.annotations", "Invalid value", err, key, True))
            if not isinstance(value, str):
                errors.append(
                    FieldError(
                        f"{path}.annotations.{key}",
                        "Invalid value",
                        f"{path}.annotations.{key} in body must be of type string",
                        _json_type(value),
                        True,
                    )
                )
            else:
                total += len(key) + len(value)
        if total > 256 * 1024:
            errors.append(
                FieldError(f"{path}.annotations", "Too long", "must have at most 262144 bytes")
            )
    owners = meta.get("ownerReferences")
    if isinstance(owners, list):
        allowed = {"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"}
        for index, ref in enumerate(owners):
            sub = f"{path}.ownerReferences[{index}]"
            if not isinstance(ref, dict):
                errors.append(FieldError(sub, "Invalid value", "must be an object", ref, True))
                continue
            for key in ref:
                if key not in allowed:
                    errors.append(FieldError(f"{sub}.{key}", "unknown field"))
            for key in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(key):
                    errors.append(FieldError(f"{sub}.{key}", "Required value"))
    name = meta.get("name")
    if isinstance(name, str) and name:
        name_err = dns1123_subdomain_error(name)
        if name_err:
            errors.append(FieldError(f"{path}.name", "Invalid value", name_err, name, True))
    return errors


# --------------------------------------------------------------------------- public API


def split_api_version(api_version: str) -> tuple[str, str]:
    """``kubeflow.org/v1`` -> (``kubeflow.org``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def _identity(obj: Any) -> tuple[str, str, str, str]:
    if not isinstance(obj, dict):
        raise ManifestInvalid(
            [FieldError("", "Invalid value", "a manifest must be an object", obj, True)]
        )
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    errors = []
    if not isinstance(api_version, str) or not api_version:
        errors.append(FieldError("apiVersion", "Required value"))
    if not isinstance(kind, str) or not kind:
        errors.append(FieldError("kind", "Required value"))
    if errors:
        raise ManifestInvalid(errors)
    assert isinstance(api_version, str)
    assert isinstance(kind, str)
    group, version = split_api_version(api_version)
    name = ""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        name = str(meta.get("name") or meta.get("generateName") or "")
    return group, version, kind, name


def custom_errors(obj: dict[str, Any], *, only_status: bool = False) -> list[FieldError]:
    """Field errors of a custom resource against its pinned CRD (empty when valid).
    ``only_status``: check metadata and ``status`` only (the rest is known valid)."""
    group, version, kind, _ = _identity(obj)
    validator = _custom_validator(group, version, kind)
    pruned = prune_nulls(obj)
    errors = validate_metadata(pruned.get("metadata"))
    if only_status:
        status_validator = _status_validators.get((group, version, kind))
        if status_validator is not None and "status" in pruned:
            errors += _collect(status_validator.iter_errors(pruned["status"]), prefix=["status"])
        return errors
    errors += _collect(validator.iter_errors(pruned))
    return errors


def validate_custom(obj: dict[str, Any]) -> None:
    """Validate a custom resource against the pinned CRD of its group, version and kind.

    Unknown fields are rejected (strict field validation); ``null`` values are dropped
    first, as the API server does. Raises ``ManifestInvalid``."""
    _group, _version, kind, name = _identity(obj)
    errors = custom_errors(obj)
    if errors:
        raise ManifestInvalid(errors, kind=kind, name=name)


# Core kinds: kubernetes-validate's strict JSON schemas, validators cached per kind.
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
    _, _, kind, _ = _identity(obj)
    validator = _core_validator(obj["apiVersion"], kind, k8s_version)
    errors = validate_metadata(obj.get("metadata"))
    errors += [
        e for e in _collect(validator.iter_errors(obj)) if not e.path.startswith("metadata.")
    ]
    return errors


def validate_core(obj: dict[str, Any], k8s_version: str = K8S_VERSION) -> None:
    """Validate a built-in kind with kubernetes-validate's strict schemas for
    ``k8s_version`` (the same schema files and validator class that
    ``kubernetes_validate.validate(obj, version, strict=True)`` uses, compiled once per kind
    so it costs about a millisecond), plus label/annotation syntax. Raises
    ``ManifestInvalid`` with every error, not just the first."""
    _, _, kind, name = _identity(obj)
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


def is_core(api_version: str) -> bool:
    group, _ = split_api_version(api_version)
    return group in CORE_GROUPS


def validate(obj: dict[str, Any]) -> None:
    """Validate any manifest: built-in kinds with ``validate_core``, others against the
    pinned CRDs with ``validate_custom``."""
    group, _, _, _ = _identity(obj)
    if group in CORE_GROUPS:
        validate_core(obj)
    else:
        validate_custom(obj)
