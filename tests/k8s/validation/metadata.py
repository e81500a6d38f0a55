"""What a manifest says about itself (apiVersion, kind, name) and its ``metadata``, checked
as the API server's ObjectMeta validation does (the CRD schemas only say ``type: object``)."""

from __future__ import annotations

import re
from typing import Any

from .errors import FieldError, ManifestInvalid, json_type

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
                json_type(meta),
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
                    json_type(value),
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
                        json_type(value),
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
                        json_type(value),
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


def split_api_version(api_version: str) -> tuple[str, str]:
    """``kubeflow.org/v1`` -> (``kubeflow.org``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def identity(obj: Any) -> tuple[str, str, str, str]:
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
