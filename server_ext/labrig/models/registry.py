"""Registered models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, NotFound
from ..store import Database, Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import RegisteredModel
from ..validation import check_fields, check_name, check_tags, check_text

MODEL_FIELDS = {"name", "description", "tags"}


def model_json(row: RegisteredModel) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "created_at": row.created_at.isoformat(),
        "latest_version": row.latest_version,
    }


class ModelRegistry:
    def __init__(self, db: Database, store_url: str) -> None:
        self.db = db
        self.store_url = store_url

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            stmt = select(RegisteredModel)
            return paginate(session, stmt, [RegisteredModel.name], page).map(model_json)

    def get(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(RegisteredModel, name)
            if row is None:
                raise NotFound(f"no model named {name!r}; `labrig models ls` lists them")
            return model_json(row)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        check_fields(body, MODEL_FIELDS, what="a model")
        name = check_name(body.get("name"), what="model")
        description = check_text(body.get("description", ""), field="description", max_length=10000)
        tags = check_tags(body.get("tags", {}))
        row = RegisteredModel(name=name, description=description, tags=tags)
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError as err:
            raise Conflict(
                f"a model named {name!r} already exists; register a new version of it instead",
                field="name",
            ) from err
        return model_json(row)
