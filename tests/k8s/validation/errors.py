"""Field errors as the API server words them, and jsonschema's errors converted to them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


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
            text += f": {format_value(self.value)}"
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


def format_value(value: Any) -> str:
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


def _schema_type(schema: Any) -> str:
    t = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), t[0])
    return str(t) if t else "object"


def json_type(value: Any) -> str:
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


# How the API server words a violated numeric bound.
_BOUNDS = {
    "minimum": "greater than or equal to",
    "exclusiveMinimum": "greater than",
    "maximum": "less than or equal to",
    "exclusiveMaximum": "less than",
}


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
                f"{path} in body must be of type {wanted}: {json.dumps(json_type(error.instance))}",
                json_type(error.instance),
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
        got = json_type(value)
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
        allowed = ", ".join(format_value(v) for v in error.validator_value if v is not None)
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
    if kind in _BOUNDS:
        return [
            FieldError(
                path,
                "Invalid value",
                f"{path} in body should be {_BOUNDS[kind]} {error.validator_value}",
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


def collect(errors: Any, prefix: list[Any] | None = None) -> list[FieldError]:
    out: list[FieldError] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))):
        for fe in _field_errors(error, prefix):
            if all(str(fe) != str(x) for x in out):
                out.append(fe)
    return out
