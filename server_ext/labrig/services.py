"""The services behind every way into labrig: the REST API, the CLI and the Python API.

All three build them from the same ``LabrigApp`` settings, so the panel, the terminal and the
notebook see one truth.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from labrig.dataset_mounts.cache import DatasetCache
from labrig.dataset_mounts.catalog import DatasetCatalog

from ._version import __version__
from .jobs.backend import JobBackend
from .jobs.capacity import SharedLedger
from .jobs.service import JobService
from .models.registry import ModelRegistry
from .resources.backend import KernelBackend
from .resources.service import ResourceService
from .store import Database

if TYPE_CHECKING:
    from .app import LabrigApp

B = TypeVar("B")


@dataclass
class Services:
    db: Database
    kernel_backend: KernelBackend
    job_backend: JobBackend
    dataset_cache: DatasetCache
    resources: ResourceService
    datasets: DatasetCatalog
    jobs: JobService
    models: ModelRegistry

    def status(self) -> dict[str, Any]:
        capabilities: dict[str, str] = {}
        for backend in (self.kernel_backend, self.job_backend, self.dataset_cache):
            capabilities.update(backend.capabilities())
        capabilities["models.store"] = self.models.store_url
        return {
            "version": __version__,
            "backends": {
                "kernels": self.kernel_backend.kind,
                "jobs": self.job_backend.kind,
                "datasets": self.dataset_cache.kind,
                "models": self.models.store_url.split("://", 1)[0],
            },
            "capabilities": capabilities,
            "database": {"dialect": self.db.dialect, "revision": self.db.current_revision()},
        }

    def close(self) -> None:
        self.db.dispose()


def _configured(cls: Callable[..., B], app: LabrigApp) -> B:
    """An instance of a configured backend class (a ``Type`` trait, so concrete at run time)."""
    return cls(parent=app)


def _resource_service(app: LabrigApp, db: Database) -> ResourceService:
    server = getattr(app, "serverapp", None)
    root = (
        server.root_dir
        if server is not None
        else app.config.ServerApp.get("root_dir") or os.environ.get("LABRIG_ROOT_DIR")
    )
    service = ResourceService(db, root_dir=root or None, parent=app)
    if "scratch_root" not in app.config.ResourceService:
        service.scratch_root = str(Path(app.data_dir) / "scratch")
    return service


def _root_dir(app: LabrigApp) -> str:
    """The Jupyter server's root (notebook paths are relative to it); the CLI's cwd otherwise."""
    serverapp = getattr(app, "serverapp", None)
    return str(getattr(serverapp, "root_dir", None) or os.getcwd())


def _config_value(value: Any) -> str:
    """A configured class as the import string a ``Type`` trait accepts; anything else as text."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


def settings_json(app: LabrigApp) -> dict[str, Any]:
    """The app's configuration as JSON, for a process that must act as this one would."""
    loaded: dict[str, Any] = json.loads(json.dumps(app.config, default=_config_value))
    return loaded


def build_services(app: LabrigApp, root_dir: str | None = None) -> Services:
    """Open the database (migrating it when configured to) and wire up the backends.

    ``root_dir``: where notebook paths start, when not the server's root or the current
    directory (a job's supervisor acts for the server that launched it)."""
    db = Database(app.database_url)
    if app.migrate_on_start:
        db.upgrade()
    dataset_cache = _configured(app.dataset_cache_class, app)
    resources = _resource_service(app, db)
    datasets = DatasetCatalog(db, dataset_cache)
    models = ModelRegistry(
        db,
        app.model_store_url,
        store_options=dict(app.model_store_options),
        cache_dir=Path(app.data_dir) / "model-cache",
    )
    job_backend = _configured(app.job_backend_class, app)
    jobs = JobService(db, app.data_dir, root_dir or _root_dir(app), backend=job_backend)
    jobs.settings = settings_json(app)
    # Kernels see mounted datasets. Jobs take GPUs from the ledger kernels use, mount datasets
    # like kernels do, register their declared outputs as model versions, and are refused while
    # their notebook's scratch disk is over its quota.
    jobs.ledger = SharedLedger(jobs.capacity, resources)
    jobs.dataset_mounts = datasets
    jobs.model_outputs = models
    jobs.notebook_checks.append(resources.check_scratch)
    resources.kernel_env_hooks.append(datasets.kernel_env)
    return Services(
        db=db,
        kernel_backend=_configured(app.kernel_backend, app),
        job_backend=job_backend,
        dataset_cache=dataset_cache,
        resources=resources,
        datasets=datasets,
        jobs=jobs,
        models=models,
    )


def load_services() -> Services:
    """Services configured like the server (jupyter_server_config.{py,json}, LABRIG_* vars),
    for the CLI and for ``labrig.connect()`` inside kernels and job ranks."""
    from .app import LabrigApp

    app = LabrigApp()
    app.config_file_name = "jupyter_server_config"
    app.load_config_file()
    return build_services(app)
