"""Domain errors shared by the REST API, the CLI and the Python API.

They carry a message written for the person who made the mistake (what was wrong and what to
do) and, for bad input, the name of the offending field. The REST layer maps them to HTTP
statuses in one place (``handlers.base.STATUS_BY_ERROR``); the CLI prints the message.
"""

from __future__ import annotations


class LabrigError(Exception):
    """Base class of every error labrig reports to a user."""

    reason = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(LabrigError):
    """The caller sent a value labrig cannot accept."""

    reason = "invalid_input"


class NotFound(LabrigError):
    """The named object does not exist."""

    reason = "not_found"


class Conflict(LabrigError):
    """The object already exists, or the request clashes with its current state."""

    reason = "conflict"


class Unavailable(LabrigError):
    """A backend labrig depends on (database, store, cluster) cannot be reached."""

    reason = "unavailable"


class StorageFull(LabrigError):
    """The store has no room left for the files being written."""

    reason = "storage_full"


class CapacityExceeded(Conflict):
    """The request does not fit what is free now (GPUs held by others, quota, capacity).

    A ledger that knows says how much of the ``field`` is free of how much in all and which
    holders (``job:<id>/rank<r>``, ``kernel:<id>``) hold the rest, so a queued job can say what
    it waits for and for whom.
    """

    reason = "capacity_exceeded"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        free: float | None = None,
        total: float | None = None,
        holders: list[str] | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.free = free
        self.total = total
        self.holders = holders or []


class AccessDenied(LabrigError):
    """A data source refused the credentials labrig was given (or none)."""

    reason = "access_denied"
