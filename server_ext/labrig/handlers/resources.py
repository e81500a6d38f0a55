"""Resource requests per notebook."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


class ResourceRequestsHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.resources.list, self.page_request()))


class ResourceRequestHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self, notebook_path: str) -> None:
        self.write_json(await self.call(self.services.resources.get, notebook_path))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("resources", ResourceRequestsHandler),
    ("resources/(?P<notebook_path>.+)", ResourceRequestHandler),
]
