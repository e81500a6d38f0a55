"""Server status: version, backends, capabilities."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


class StatusHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(self.services.status))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("status", StatusHandler),
]
