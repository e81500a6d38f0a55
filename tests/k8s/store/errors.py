"""The errors the API server answers with a ``Status`` object."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the API server answers with a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status_extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.status_extra = status_extra or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        body.update(self.status_extra)
        return body


def not_found_resource() -> ApiError:
    """What the API server answers for a path it does not serve (e.g. a CRD not installed)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})
