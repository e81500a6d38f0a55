"""State: SQLAlchemy 2 models, the database handle and keyset pagination."""

from .db import Database
from .pagination import Page, PageRequest

__all__ = ["Database", "Page", "PageRequest"]
