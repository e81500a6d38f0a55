"""The model registry."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


class ModelsHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.models.list, self.page_request()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        model = await self.call(self.services.models.create, self.json_body())
        self.write_json(model, status=201)


class ModelHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.services.models.get, name))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("models", ModelsHandler),
    ("models/(?P<name>[^/]+)", ModelHandler),
]
