"""Input checks of the model registry (names, references, metrics, parameters)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import InvalidInput
from ..validation import NAME_RULE, check_name, check_tags, check_text

ALIAS_RULE = NAME_RULE + ", not only digits, and not 'latest'"
REF_RULE = "NAME, NAME/VERSION (e.g. resnet-mini/3) or NAME@ALIAS (e.g. resnet-mini@production)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_PARAMS_BYTES = 64 * 1024


def check_model_name(value: Any, field: str = "name") -> str:
    name = check_name(value, what="model", field=field)
    if ".." in name:
        raise InvalidInput(f"model name {name!r} is not allowed: '..' is reserved", field=field)
    return name


def check_alias(value: Any, field: str = "alias") -> str:
    alias = check_name(value, what="alias", field=field)
    if alias.isdigit() or alias == "latest" or ".." in alias:
        raise InvalidInput(f"alias {alias!r} is not allowed: use {ALIAS_RULE}", field=field)
    return alias


def check_version(value: Any, field: str = "version") -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():  # int() refuses "³"
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise InvalidInput(f"version must be a whole number from 1, got {value!r}", field=field)
    return value


def check_metrics(value: Any, field: str = "metrics") -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{field} must be an object of numbers, e.g. {{"acc": 0.91}}', field=field
        )
    metrics: dict[str, float] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > 255 or _CONTROL.search(key):
            raise InvalidInput(
                f"{field} key {key!r} must be 1-255 printable characters", field=field
            )
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise InvalidInput(
                f"{field}[{key!r}] is {item!r}: a metric must be a finite number", field=field
            )
        metrics[key] = float(item)
    return metrics


def check_params(value: Any, field: str = "params") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise InvalidInput(
            f"{field} must be JSON (finite numbers, strings, lists): {err}", field=field
        ) from err
    if len(encoded) > MAX_PARAMS_BYTES:
        raise InvalidInput(
            f"{field} is {len(encoded)} bytes of JSON; the limit is {MAX_PARAMS_BYTES}", field=field
        )
    parsed: dict[str, Any] = json.loads(encoded)
    return parsed


def check_version_tags(value: Any) -> dict[str, str]:
    return {} if value is None else check_tags(value)


def check_note(value: Any) -> str:
    return "" if value is None else check_text(value, field="note", max_length=10000)


def parse_ref(ref: Any, field: str = "ref") -> tuple[str, int | str | None]:
    """``name`` -> (name, None); ``name/3`` -> (name, 3); ``name@alias`` -> (name, "alias")."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"a model reference is required: {REF_RULE}", field=field)
    if "@" in ref:
        name, _, alias = ref.partition("@")
        check_model_name(name, field)
        if alias == "latest":
            return name, None
        return name, check_alias(alias, field)
    if "/" in ref:
        name, _, version = ref.partition("/")
        check_model_name(name, field)
        if not (version.isascii() and version.isdigit()):
            raise InvalidInput(f"{ref!r} is not a model reference: use {REF_RULE}", field=field)
        return name, check_version(int(version), field)
    return check_model_name(ref, field), None
