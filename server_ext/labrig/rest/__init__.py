"""REST mode: ``import labrig`` and the ``labrig`` CLI through the Jupyter server's REST API.

Kernels and job ranks that labrig starts get ``LABRIG_SERVER_URL`` and ``LABRIG_API_TOKEN`` (a
token scoped to that kernel or job, acting as its owner) instead of the database's URL. With
both set, ``labrig.connect()`` returns ``RestServices``: the same attributes as ``Services``
(``jobs``, ``models``, ``datasets``, ``resources``, ``status()``), whose methods make the same
calls on the server and answer the same shapes, so the Python API and the CLI run unchanged,
no database is opened and ``LABRIG_USER`` plays no part (the server knows whom the token acts
for). What needs the database or the server's host (``labrig db``, ``models gc``, evicting the
cache) refuses with ``NotOverRest``, saying where to run it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from .catalog import RestDatasets, RestResources
from .http import ApiClient, MissingOverRest, NotOverRest, RefusesWhatRestLacks, rest_settings
from .jobs import RestJobs
from .models import RestModels

__all__ = ["MissingOverRest", "NotOverRest", "RestServices", "rest_settings"]


def model_cache_dir(server_url: str) -> Path:
    """Where versions loaded from this server are kept: this user's cache, one folder per
    server (the server's own data dir may not be writable from here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(server_url.encode()).hexdigest()[:16]
    return Path(base) / "labrig" / "model-cache" / digest


class RestServices(RefusesWhatRestLacks):
    """``Services`` over the REST API of the server at ``LABRIG_SERVER_URL``; what it lacks
    (``db``, the backends) answers ``MissingOverRest`` saying why."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.jobs = RestJobs(api)
        self.models = RestModels(api, model_cache_dir(api.server_url))
        self.datasets = RestDatasets(api)
        self.resources = RestResources(api)

    @classmethod
    def from_env(cls) -> RestServices:
        return cls(ApiClient.from_env())

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get("status")
        return found

    def model_source_roots(self) -> list[str]:
        """Where ``register`` may read files from: as configured, else the Jupyter root (as
        this process knows it) and the temporary directory."""
        from ..services import jupyter_root
        from ..settings import load_settings

        settings = load_settings()
        return settings.model_source_roots or [jupyter_root(settings), tempfile.gettempdir()]

    def close(self) -> None:
        self.api.close()
