"""Resources: requests per notebook, live usage, profiles and capacity."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..links import Links
from ..resources.restarts import KernelRestarts
from .base import LabrigHandler


class ResourcesSection(LabrigHandler):
    """Kernels' resource requests, usage and capacity."""

    auth_resource = "labrig:resources"


class ResourceRequestsHandler(ResourcesSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.resources.list, self.page_request()))


class ResourceRequestHandler(ResourcesSection):
    """GET shows, PUT saves and restarts the notebook's kernels, DELETE releases and restarts."""

    @property
    def restarts(self) -> KernelRestarts:
        restarts: KernelRestarts = self.settings["labrig_kernel_restarts"]
        return restarts

    @web.authenticated
    @authorized
    async def get(self, notebook_path: str) -> None:
        self.write_json(await self.call(self.services.resources.show, notebook_path))

    @web.authenticated
    @authorized
    async def put(self, notebook_path: str) -> None:
        body = self.json_body()
        path = await self.call(self.services.resources.check_path, notebook_path)
        async with self.restarts.holding(path):
            await self.call(self.services.resources.save, notebook_path, body)
            restarted = await self.restarts.restart_notebook(path)
        shown = await self.call(self.services.resources.show, notebook_path)
        self.write_json({**shown, "restarted_kernels": restarted})

    @web.authenticated
    @authorized
    async def delete(self, notebook_path: str) -> None:
        path = await self.call(self.services.resources.check_path, notebook_path)
        async with self.restarts.holding(path):
            await self.call(self.services.resources.delete, notebook_path)
            restarted = await self.restarts.restart_notebook(path)
        shown = await self.call(self.services.resources.show, notebook_path)
        self.write_json({**shown, "restarted_kernels": restarted})


class ResourceUsageHandler(ResourcesSection):
    @web.authenticated
    @authorized
    async def get(self, notebook_path: str) -> None:
        backend = self.services.kernel_backend
        self.write_json(await self.call(backend.usage, self.services.resources, notebook_path))


class ResourceProfilesHandler(ResourcesSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        def profiles() -> dict[str, Any]:
            resources = self.services.resources
            default = resources.default_profile()
            return {
                "items": [p.json() for p in resources.profiles()],
                "default": default.slug if default else None,
            }

        self.write_json(await self.call(profiles))


class ResourceCapacityHandler(ResourcesSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        # Through the cross-links: they know whose job holds a GPU.
        self.write_json(await self.call(Links(self.services).capacity))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("resources", ResourceRequestsHandler),
    ("resources/(?P<notebook_path>.+)", ResourceRequestHandler),
    ("resource-usage/(?P<notebook_path>.+)", ResourceUsageHandler),
    ("resource-profiles", ResourceProfilesHandler),
    ("resource-capacity", ResourceCapacityHandler),
]
