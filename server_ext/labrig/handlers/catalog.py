"""List and get handlers for the four sections, plus status."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


class StatusHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(self.services.status))


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


class JobsHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.jobs.list, self.page_request()))


class JobHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.write_json(await self.call(self.services.jobs.get, job_id))


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
