"""How a model's versions are listed: the sort key and the filters (alias, tags, metric bounds).

Parsed once from raw query strings (REST) or options (CLI), so every way in rejects the same
input with the same message; applied as SQL ``WHERE`` clauses, so keyset pagination and sorting
happen in the database however many versions a model has.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, aliased

from ..errors import InvalidInput
from .checks import check_alias
from .tables import ModelAlias, ModelVersion, ModelVersionMetric

SORT_KEYS = ("version", "created_at")
SORT_RULE = "version, created_at or metric:<name>"
#: `acc>=0.9`: a metric name, a comparison and a number.
_BOUND = re.compile(r"^(?P<name>[^<>=!]{1,255}?)\s*(?P<op>>=|<=|>|<|=)\s*(?P<value>\S+)$")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
MAX_FILTERS = 20
S = TypeVar("S", bound=Select)


def check_sort(value: str | None, field: str = "sort") -> str:
    """``version`` (default), ``created_at`` or ``metric:<name>``; anything else is a 400."""
    key = value or "version"
    if key in SORT_KEYS:
        return key
    if key.startswith("metric:"):
        name = key[len("metric:") :]
        if name and len(name) <= 255:
            return key
        raise InvalidInput(f"{field} metric:<name> needs a metric name", field=field)
    raise InvalidInput(f"{field} {key!r} is not one of {SORT_RULE}", field=field)


@dataclass(frozen=True)
class MetricBound:
    name: str
    op: str
    value: float


@dataclass(frozen=True)
class VersionFilters:
    """Versions an alias points at, that carry every tag, and whose metrics meet every bound."""

    alias: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    metrics: tuple[MetricBound, ...] = ()

    @classmethod
    def parse(
        cls,
        alias: str | None = None,
        tags: Iterable[str] = (),
        metrics: Iterable[str] = (),
    ) -> VersionFilters:
        """Raw strings: ``alias=production``, ``tag=team=vision``, ``metric=acc>=0.9``."""
        tag_list = [t for t in tags if t]
        bound_list = [m for m in metrics if m]
        if len(tag_list) + len(bound_list) > MAX_FILTERS:
            raise InvalidInput(f"at most {MAX_FILTERS} tag and metric filters", field="tag")
        return cls(
            alias=check_alias(alias, field="alias") if alias else None,
            tags=tuple(_parse_tag(t) for t in tag_list),
            metrics=tuple(_parse_bound(m) for m in bound_list),
        )

    def apply(self, stmt: S, session: Session, model: str) -> S:
        if self.alias is not None:
            row = session.get(ModelAlias, (model, self.alias))
            # An alias that points nowhere matches no version: the list is empty, not an error.
            stmt = stmt.where(ModelVersion.version == (row.version if row else -1))
        for key, value in self.tags:
            stmt = stmt.where(ModelVersion.tags[key].as_string() == value)
        for bound in self.metrics:
            # Its own alias: a by-metric listing joins the metrics table already.
            m = aliased(ModelVersionMetric)
            compare = _OPS[bound.op]
            stmt = stmt.where(
                exists(
                    select(m.version_id).where(
                        m.version_id == ModelVersion.id,
                        m.key == bound.name,
                        compare(m.value, bound.value),
                    )
                )
            )
        return stmt


def _parse_tag(raw: str) -> tuple[str, str]:
    key, eq, value = raw.partition("=")
    key = key.strip()
    if not eq or not key or len(key) > 255:
        raise InvalidInput(f"tag filter {raw!r} is not KEY=VALUE, e.g. team=vision", field="tag")
    return key, value


def _parse_bound(raw: str) -> MetricBound:
    match = _BOUND.match(raw.strip())
    if match is None:
        raise InvalidInput(
            f"metric filter {raw!r} is not NAME>=NUMBER (or <=, >, <, =), e.g. acc>=0.9",
            field="metric",
        )
    try:
        value = float(match["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(
            f"metric filter {raw!r}: {match['value']!r} is not a finite number", field="metric"
        )
    return MetricBound(match["name"].strip(), match["op"], value)
