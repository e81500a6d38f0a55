"""Keyset pagination: a page costs the same whether it is the first or the thousandth.

The ``page_token`` a client gets back is the sort key of the last row it saw, encoded; the next
page is the rows strictly after it. Tokens are opaque to clients but carry nothing secret.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..errors import InvalidInput

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    page_token: str | None = None

    @classmethod
    def parse(cls, limit: str | None, page_token: str | None) -> PageRequest:
        """Validate raw query-string values (as the REST API and the CLI receive them)."""
        if limit is None or limit == "":
            return cls(DEFAULT_LIMIT, page_token or None)
        try:
            value = int(limit)
        except ValueError:
            value = -1
        if not 1 <= value <= MAX_LIMIT:
            raise InvalidInput(
                f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}",
                field="limit",
            )
        return cls(value, page_token or None)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str | None

    def map(self, fn: Callable[[T], R]) -> Page[R]:
        return Page([fn(item) for item in self.items], self.next_page_token)


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(token: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong arity")
        if not all(isinstance(v, str | int | float) for v in values):
            raise ValueError("not a scalar key")
        return [
            datetime.fromisoformat(v) if _is_datetime(column) else v
            for v, column in zip(values, columns, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise InvalidInput(
            "page_token is not one this server issued; pass the next_page_token of the "
            "previous page unchanged, or leave it out to start from the first page",
            field="page_token",
        ) from err


def _is_datetime(column: InstrumentedAttribute[Any]) -> bool:
    return isinstance(getattr(column.type, "impl", column.type), DateTime)


def paginate(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    order: Sequence[InstrumentedAttribute[Any]],
    request: PageRequest,
    *,
    descending: bool = False,
    columns: bool = False,
) -> Page[Any]:
    """Run ``stmt`` ordered by the unique key ``order`` and return one page of ORM rows, or of
    plain rows when ``columns`` (``stmt`` selects columns, ``order``'s among them): a list the
    panel polls reads them at a fraction of the CPU that building ORM objects costs."""
    if request.page_token:
        after = _decode(request.page_token, order)
        stmt = stmt.where(_after(order, after, descending))
    keys = [col.desc() if descending else col.asc() for col in order]
    stmt = stmt.order_by(*keys).limit(request.limit + 1)
    rows = list(session.execute(stmt) if columns else session.scalars(stmt))
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    token = _encode([getattr(rows[-1], col.key) for col in order]) if more else None
    return Page(rows, token)


def _after(order: Sequence[InstrumentedAttribute[Any]], values: list[Any], descending: bool) -> Any:
    """(a, b) > (x, y) spelled out, since not every database compares row values."""
    clauses = []
    for i, column in enumerate(order):
        equal = [order[j] == values[j] for j in range(i)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)
