"""The JSON shapes of models, versions and alias events, and the by-metric page token.

The REST handlers, the CLI and the Python API all return these dicts, so they live apart from the
queries that load the rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from ..errors import InvalidInput
from ..store.tables import RegisteredModel
from .tables import ModelAliasEvent, ModelFile, ModelVersion


def _iso(value: datetime) -> str:
    return value.isoformat()


#: What ``model_json`` reads: the list selects these as plain rows (no ORM objects to build).
MODEL_COLUMNS = (
    RegisteredModel.name,
    RegisteredModel.description,
    RegisteredModel.tags,
    RegisteredModel.created_at,
    RegisteredModel.owner,
    RegisteredModel.latest_version,
)


def model_json(
    row: RegisteredModel | Row[Any], aliases: dict[str, int] | None = None
) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "created_at": _iso(row.created_at),
        "owner": row.owner,
        "latest_version": row.latest_version,
        "aliases": aliases or {},
    }


def version_json(
    row: ModelVersion,
    aliases: list[str] | None = None,
    files: list[ModelFile] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "model": row.model_name,
        "version": row.version,
        "ref": f"{row.model_name}/{row.version}",
        "created_at": _iso(row.created_at),
        "user": row.user,
        "note": row.note,
        "kind": row.kind,
        "metrics": row.metrics,
        "params": row.params,
        "tags": row.tags,
        "lineage": row.lineage or {},
        "size": row.size,
        "file_count": row.file_count,
        "aliases": sorted(aliases or []),
    }
    if files is not None:
        value["files"] = [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]
    return value


def alias_event_json(row: ModelAliasEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "model": row.model_name,
        "alias": row.alias,
        "from_version": row.from_version,
        "to_version": row.to_version,
        "user": row.user,
        "at": _iso(row.at),
    }


def encode_metric_token(value: float, version: int) -> str:
    """The page token that continues a by-metric listing after (value, version)."""
    raw = json.dumps([value, version]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_metric_token(token: str) -> tuple[float, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, version = json.loads(raw)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not isinstance(version, int)
        ):
            raise ValueError("bad token")
        return float(value), version
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise InvalidInput(
            "page_token is not one this server issued for this order; start from the first page",
            field="page_token",
        ) from err
