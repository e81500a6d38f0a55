"""Server status: version, backends, capabilities."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


class StatusSection(LabrigHandler):
    """labrig's status and settings."""

    auth_resource = "labrig:status"


class StatusHandler(StatusSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(self.services.status))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("status", StatusHandler),
]
