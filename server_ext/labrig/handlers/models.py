"""The model registry: models, versions, aliases, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import InvalidInput
from ..models.checks import check_alias
from ..models.version_query import VersionFilters
from ..paths import confine_relative
from ..validation import check_fields
from .base import LabrigHandler

REGISTER_FIELDS = {"path", "metrics", "params", "tags", "note", "idempotency_key"}


class ModelsBase(LabrigHandler):
    auth_resource = "labrig:models"

    def version_number(self, name: str, version: str) -> int:
        """A version number, or an alias (``production``) / ``latest`` resolved to one."""
        if version.isascii() and version.isdigit():  # "³" is a digit int() refuses
            return int(version)
        ref = f"{name}@{version}"
        return self.services.models.resolve(ref)[1]

    def server_path(self, value: Any) -> Path:
        """A path relative to the Jupyter root, refused when it leaves the root."""
        root = Path(self.settings.get("server_root_dir") or ".").expanduser()
        return confine_relative(value, root, field="path")


class ModelsHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.models.list, self.page_request()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        model = await self.call(self.services.models.create, self.json_body())
        self.write_json(model, status=201)


class ModelHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(self.services.models.get, name))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.services.models.delete, name)
        self.set_status(204)
        self.finish()


class VersionsHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """Sorted and filtered in the database: ``sort`` (``order_by`` is its older name),
        ``order``, ``alias``, ``tag`` (repeatable, KEY=VALUE), ``metric`` (repeatable, acc>=0.9)."""
        order = self.query_value("order") or "desc"
        if order not in ("asc", "desc"):
            raise InvalidInput(f"order must be asc or desc, got {order!r}", field="order")
        sort = self.query_value("sort")
        field = "sort" if sort is not None else "order_by"
        if sort is None:
            sort = self.query_value("order_by")
        filters = VersionFilters.parse(
            alias=self.query_value("alias"),
            tags=self.get_query_arguments("tag"),
            metrics=self.get_query_arguments("metric"),
        )
        page = await self.call(
            self.services.models.list_versions,
            name,
            self.page_request(),
            sort,
            order == "desc",
            filters=filters,
            sort_field=field,
        )
        self.write_page(page)

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        check_fields(body, REGISTER_FIELDS, what="a model version")
        path = self.server_path(body.get("path"))
        version = await self.call(
            self.services.models.register,
            name,
            path,
            metrics=body.get("metrics"),
            params=body.get("params"),
            tags=body.get("tags"),
            note=body.get("note"),
            lineage={"source_path": body["path"], "registered_from": "rest"},
            idempotency_key=body.get("idempotency_key"),
        )
        self.write_json(version, status=201)


class VersionHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        number = await self.call(self.version_number, name, version)
        self.write_json(await self.call(self.services.models.get_version, name, number))

    @web.authenticated
    @authorized
    async def delete(self, name: str, version: str) -> None:
        await self.call(self.services.models.delete_version, name, version)
        self.set_status(204)
        self.finish()


class FileHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def get(self, name: str, version: str, path: str) -> None:
        number = await self.call(self.version_number, name, version)
        handle, size = await self.call(self.services.models.open_file, name, number, path)
        try:
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Length", str(size))
            filename = path.rsplit("/", 1)[-1].replace('"', "")
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
            while True:
                chunk = await self.call(handle.read, 4 * 1024 * 1024)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
        finally:
            handle.close()
        # An empty file sent nothing yet: APIHandler.finish would label it application/json.
        self.finish(set_content_type="application/octet-stream")


class AliasHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        body = self.json_body()
        check_fields(body, {"version"}, what="an alias")
        if "version" not in body:
            raise InvalidInput(
                "version is required: the version the alias points at", field="version"
            )
        moved = await self.call(self.services.models.set_alias, name, alias, body["version"])
        self.write_json(moved)

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        check_alias(alias)
        await self.call(self.services.models.delete_alias, name, alias)
        self.set_status(204)
        self.finish()


class AliasHistoryHandler(ModelsBase):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        page = await self.call(self.services.models.alias_history, name, self.page_request())
        self.write_page(page)


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("models", ModelsHandler),
    ("models/(?P<name>[^/]+)", ModelHandler),
    ("models/(?P<name>[^/]+)/versions", VersionsHandler),
    ("models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", VersionHandler),
    ("models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/files/(?P<path>.+)", FileHandler),
    ("models/(?P<name>[^/]+)/aliases/(?P<alias>[^/]+)", AliasHandler),
    ("models/(?P<name>[^/]+)/alias-history", AliasHistoryHandler),
]
