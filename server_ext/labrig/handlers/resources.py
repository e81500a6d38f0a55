"""Resources: requests per notebook, live usage, profiles and capacity."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import Conflict, LabrigError
from .base import LabrigHandler


class ResourceRequestsHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.resources.list, self.page_request()))


class ResourceRequestHandler(LabrigHandler):
    """GET shows, PUT saves and restarts the notebook's kernels, DELETE releases and restarts."""

    @web.authenticated
    @authorized
    async def get(self, notebook_path: str) -> None:
        self.write_json(await self.call(self.services.resources.show, notebook_path))

    @web.authenticated
    @authorized
    async def put(self, notebook_path: str) -> None:
        body = self.json_body()
        shown = await self.call(self.services.resources.save, notebook_path, body)
        restarted = await self.restart_kernels(shown["notebook_path"])
        shown = await self.call(self.services.resources.show, notebook_path)
        self.write_json({**shown, "restarted_kernels": restarted})

    @web.authenticated
    @authorized
    async def delete(self, notebook_path: str) -> None:
        await self.call(self.services.resources.delete, notebook_path)
        path = await self.call(self.services.resources.check_path, notebook_path)
        restarted = await self.restart_kernels(path)
        shown = await self.call(self.services.resources.show, notebook_path)
        self.write_json({**shown, "restarted_kernels": restarted})

    async def restart_kernels(self, path: str) -> list[str]:
        """Restart the notebook's running kernels so the saved request applies now."""
        resources = self.services.resources
        kernel_manager = self.settings["kernel_manager"]
        ids: list[str] = []
        for session in await self.settings["session_manager"].list_sessions():
            kernel = session.get("kernel") or {}
            try:
                same = await self.call(resources.check_path, session.get("path") or "") == path
            except LabrigError:
                same = False
            if same and kernel.get("id") and kernel["id"] not in ids:
                ids.append(kernel["id"])
        for holder in await self.call(resources.holders):
            kernel_id = holder["holder"].removeprefix("kernel:")
            if (
                holder["notebook_path"] == path
                and kernel_id in kernel_manager
                and kernel_id not in ids
            ):
                ids.append(kernel_id)
        for kernel_id in ids:
            try:
                await kernel_manager.restart_kernel(kernel_id)
            except LabrigError:
                raise
            except Exception as err:
                raise Conflict(
                    f"the request for {path} is saved, but its kernel did not restart: {err}",
                    field="notebook_path",
                ) from err
        return ids


class ResourceUsageHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self, notebook_path: str) -> None:
        backend = self.services.kernel_backend
        self.write_json(await self.call(backend.usage, self.services.resources, notebook_path))


class ResourceProfilesHandler(LabrigHandler):
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


class ResourceCapacityHandler(LabrigHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(self.services.resources.capacity))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("resources", ResourceRequestsHandler),
    ("resources/(?P<notebook_path>.+)", ResourceRequestHandler),
    ("resource-usage/(?P<notebook_path>.+)", ResourceUsageHandler),
    ("resource-profiles", ResourceProfilesHandler),
    ("resource-capacity", ResourceCapacityHandler),
]
