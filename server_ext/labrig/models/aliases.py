"""Aliases (``production``, ``staging``, ...): point one at a version, move it, remove it, and
read the audit history every change leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ..errors import NotFound
from ..store import Page, PageRequest
from ..store.pagination import paginate
from .checks import check_alias, check_model_name, check_version
from .queries import ModelQueries
from .serialize import alias_event_json
from .tables import ModelAlias, ModelAliasEvent


class ModelAliases(ModelQueries):
    """Aliases of a model's versions; every change is recorded as an alias event."""

    def set_alias(self, name: str, alias: str, version: Any) -> dict[str, Any]:
        """Point ``alias`` at ``version``, as the acting user (``model_alias_policy``)."""
        name = check_model_name(name)
        alias = check_alias(alias)
        number = check_version(version)
        with self.db.session() as session:
            self._version(session, name, number)
            user = self.policy.check("alias", name, self._model(session, name).owner).name
            row = session.get(ModelAlias, (name, alias))
            before = row.version if row else None
            if row is None:
                session.add(
                    ModelAlias(model_name=name, alias=alias, version=number, updated_by=user)
                )
            elif row.version != number:
                row.version = number
                row.updated_at = datetime.now(UTC)
                row.updated_by = user
            if before != number:
                session.add(
                    ModelAliasEvent(
                        model_name=name,
                        alias=alias,
                        from_version=before,
                        to_version=number,
                        user=user,
                    )
                )
        return {"model": name, "alias": alias, "version": number}

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias``, as the acting user (``model_alias_policy``)."""
        name = check_model_name(name)
        alias = check_alias(alias)
        with self.db.session() as session:
            user = self.policy.check("alias", name, self._model(session, name).owner).name
            row = session.get(ModelAlias, (name, alias))
            if row is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}", field="alias")
            session.add(
                ModelAliasEvent(
                    model_name=name,
                    alias=alias,
                    from_version=row.version,
                    to_version=None,
                    user=user,
                )
            )
            session.delete(row)

    def alias_history(self, name: str, page: PageRequest) -> Page[dict[str, Any]]:
        name = check_model_name(name)
        with self.db.session() as session:
            self._model(session, name)
            stmt = select(ModelAliasEvent).where(ModelAliasEvent.model_name == name)
            rows = paginate(session, stmt, [ModelAliasEvent.id], page, descending=True)
            return rows.map(alias_event_json)
