"""REST routes under /labrig/api/v1/, as described by ``labrig/openapi.yaml``.

Each section's module lists its own ``ROUTES`` (paths relative to the API prefix).
"""

from __future__ import annotations

from tornado.web import RequestHandler

from . import datasets, jobs, links, models, resources, status, uploads
from .base import API_PREFIX

ROUTES: list[tuple[str, type[RequestHandler]]] = [
    *status.ROUTES,
    *resources.ROUTES,
    *datasets.ROUTES,
    *jobs.ROUTES,
    *models.ROUTES,
    *links.ROUTES,
    *uploads.ROUTES,
]


def routes() -> list[tuple[str, type[RequestHandler]]]:
    """The routes relative to the server's base URL, as ExtensionApp.handlers expects them."""
    return [(rf"/{API_PREFIX}/{path}/?", handler) for path, handler in ROUTES]
