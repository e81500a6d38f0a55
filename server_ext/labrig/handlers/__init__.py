"""REST routes under /labrig/api/v1/, as described by ``labrig/openapi.yaml``."""

from __future__ import annotations

from tornado.web import RequestHandler

from .base import API_PREFIX
from .catalog import (
    DatasetHandler,
    DatasetsHandler,
    JobHandler,
    JobsHandler,
    ModelHandler,
    ModelsHandler,
    ResourceRequestHandler,
    ResourceRequestsHandler,
    StatusHandler,
)

ROUTES: list[tuple[str, type[RequestHandler]]] = [
    ("status", StatusHandler),
    ("resources", ResourceRequestsHandler),
    ("resources/(?P<notebook_path>.+)", ResourceRequestHandler),
    ("datasets", DatasetsHandler),
    ("datasets/(?P<name>[^/]+)", DatasetHandler),
    ("jobs", JobsHandler),
    ("jobs/(?P<job_id>[^/]+)", JobHandler),
    ("models", ModelsHandler),
    ("models/(?P<name>[^/]+)", ModelHandler),
]


def routes() -> list[tuple[str, type[RequestHandler]]]:
    """The routes relative to the server's base URL, as ExtensionApp.handlers expects them."""
    return [(rf"/{API_PREFIX}/{path}/?", handler) for path, handler in ROUTES]
