"""Jobs."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import LabrigHandler


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


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("jobs", JobsHandler),
    ("jobs/(?P<job_id>[^/]+)", JobHandler),
]
