"""Cross-links: what a job ran with and registered, who uses a dataset, who holds this host's
GPUs, a job's notebook snapshot, and the lineage graph of a model version (``labrig.links``,
``labrig.lineage_graph``)."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..lineage_graph import lineage_graph
from ..links import Links
from .models import ModelsBase


class LinksBase(ModelsBase):
    auth_resource = "labrig:lineage"

    @property
    def links(self) -> Links:
        return Links(self.services)


class JobLinksHandler(LinksBase):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.write_json(await self.call(self.links.job_links, job_id))


class DatasetUsersHandler(LinksBase):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        sessions: list[dict[str, Any]] = await self.settings["session_manager"].list_sessions()
        self.write_json(await self.call(self.links.dataset_users, name, sessions))


class GpuHoldersHandler(LinksBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(self.links.gpu_holders))


class SnapshotHandler(LinksBase):
    @web.authenticated
    @authorized
    async def get(self, sha256: str) -> None:
        self.write_json(await self.call(self.links.snapshot, sha256))


class LineageHandler(LinksBase):
    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        number = await self.call(self.version_number, name, version)
        self.write_json(await self.call(lineage_graph, self.links, name, number))


ROUTES: list[tuple[str, type[LinksBase]]] = [
    ("jobs/(?P<job_id>[^/]+)/links", JobLinksHandler),
    ("datasets/(?P<name>[^/]+)/users", DatasetUsersHandler),
    ("snapshots/(?P<sha256>[^/]+)", SnapshotHandler),
    ("resource-gpus", GpuHoldersHandler),
    ("models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/lineage", LineageHandler),
]
