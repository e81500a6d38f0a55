"""The dataset catalog."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


class DatasetsHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.datasets.list, self.page_request()))


class DatasetHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.services.datasets.get, name))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("datasets", DatasetsHandler),
    ("datasets/(?P<name>[^/]+)", DatasetHandler),
]
