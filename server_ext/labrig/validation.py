"""Checks shared by every way in (REST, CLI, Python API), so each says the same thing."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidInput

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NAME_RULE = "1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"


def check_name(value: Any, *, what: str, field: str = "name") -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} name is required ({NAME_RULE})", field=field)
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidInput(f"{what} name {value!r} is not allowed: use {NAME_RULE}", field=field)
    return value


def check_text(value: Any, *, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; the limit is {max_length}", field=field
        )
    return value


def check_tags(value: Any, *, field: str = "tags") -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{field} must be an object of strings, e.g. {{"team": "vision"}}', field=field
        )
    for key, item in value.items():
        if not key or len(key) > 255 or not isinstance(item, str) or len(item) > 5000:
            raise InvalidInput(
                f"{field}[{key!r}] is not allowed: keys are 1-255 characters and values are "
                "strings of at most 5000 characters",
                field=field,
            )
    return dict(value)


def check_fields(body: dict[str, Any], allowed: set[str], *, what: str) -> None:
    """Unknown fields are an error, never silently dropped."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r} for {what}; "
            f"allowed fields: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )
