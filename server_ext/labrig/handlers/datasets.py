"""The dataset catalog: datasets, warm-ups, refresh, mounts and the host cache."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import InvalidInput
from .base import LabrigHandler


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{key} must be true or false", field=key)
    return value


class DatasetsSection(LabrigHandler):
    """The dataset catalog, cache and mounts."""

    auth_resource = "labrig:datasets"


class DatasetsHandler(DatasetsSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.datasets.list, self.page_request()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.call(self.services.datasets.create, body), status=201)


class DatasetHandler(DatasetsSection):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.services.datasets.get, name))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.services.datasets.delete, name)
        self.set_status(204)
        self.finish()


class WarmHandler(DatasetsSection):
    """POST starts a warm-up on a server thread; GET polls it; DELETE cancels it."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.services.datasets.warm_status, name))

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body() if self.request.body else {}
        verify = _flag(body, "verify")
        self.write_json(
            await self.call(self.services.datasets.start_warm, name, verify=verify), status=202
        )

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        self.write_json(await self.call(self.services.datasets.cancel_warm, name))


class RefreshHandler(DatasetsSection):
    """POST lists the source again and answers the diff; the pin does not move."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.write_json(await self.call(self.services.datasets.refresh, name))


class RefreshConfirmHandler(DatasetsSection):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        self.write_json(
            await self.call(self.services.datasets.confirm_refresh, name, body.get("version"))
        )


class MountHandler(DatasetsSection):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body() if self.request.body else {}
        path = body.get("path")
        if path is not None and not isinstance(path, str):
            raise InvalidInput("path must be a string", field="path")
        self.write_json(await self.call(self.services.datasets.mount, name, path))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        self.write_json(await self.call(self.services.datasets.unmount, name))


class DatasetCacheHandler(DatasetsSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(self.services.datasets.cache_stats))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("dataset-cache", DatasetCacheHandler),
    ("datasets", DatasetsHandler),
    ("datasets/(?P<name>[^/]+)", DatasetHandler),
    ("datasets/(?P<name>[^/]+)/warm", WarmHandler),
    ("datasets/(?P<name>[^/]+)/refresh", RefreshHandler),
    ("datasets/(?P<name>[^/]+)/refresh/confirm", RefreshConfirmHandler),
    ("datasets/(?P<name>[^/]+)/mount", MountHandler),
]
