"""The services behind every way into labrig: the REST API, the CLI and the Python API.

All three build them from the same ``LabrigApp`` settings, so the panel, the terminal and the
notebook see one truth.

Each service is built the first time it is used, with its module imported then: ``labrig jobs
ls`` opens the database and the job service only (no GPU discovery, no model store, no dataset
cache), and the database's migration check runs when the database is first opened. The server
uses every service at start, so it builds them all there.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._version import __version__

if TYPE_CHECKING:
    from labrig.dataset_mounts.cache import DatasetCache
    from labrig.dataset_mounts.catalog import DatasetCatalog

    from .jobs.backend import JobBackend
    from .jobs.base import DatasetMounts, ModelOutputs
    from .jobs.capacity import GpuLedger
    from .jobs.service import JobService
    from .models.registry import ModelRegistry
    from .resources.backend import KernelBackend
    from .resources.service import ResourceService
    from .settings import LabrigSettings
    from .store import Database
    from .tokens import ApiTokens

B = TypeVar("B")
T = TypeVar("T")

#: The services, in the order ``build_all`` builds them (also the names of the attributes).
FIELDS = (
    "db",
    "tokens",
    "kernel_backend",
    "job_backend",
    "dataset_cache",
    "resources",
    "datasets",
    "jobs",
    "models",
)


class _OnFirstUse:
    """Stands in for a service that another one calls: built when first called, not before."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    def __getattr__(self, name: str) -> Any:
        return getattr(self._build(), name)


class Services:
    """labrig's services over one configuration (``LabrigApp`` or ``LabrigSettings``).

    The attributes are ``db``, ``tokens``, ``kernel_backend``, ``job_backend``, ``dataset_cache``,
    ``resources``, ``datasets``, ``jobs`` and ``models``; each is built on first use (thread
    safe) and the same object afterwards.
    """

    def __init__(self, app: LabrigSettings, root_dir: str | None = None) -> None:
        self.app = app
        #: Where notebook paths start, when not the server's root or the current directory.
        self.root_dir = root_dir
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _get(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            value: T = self._built[name]
            return value

    def build_all(self) -> Services:
        """Build every service now (the server does, so a bad setting fails its start)."""
        for name in FIELDS:
            getattr(self, name)
        return self

    @property
    def db(self) -> Database:
        return self._get("db", lambda: _database(self.app))

    @property
    def tokens(self) -> ApiTokens:
        """The API tokens of the kernels and job ranks this deployment started."""
        from .tokens import ApiTokens

        return self._get("tokens", lambda: ApiTokens(self.db))

    @property
    def kernel_backend(self) -> KernelBackend:
        return self._get("kernel_backend", lambda: _configured(self.app.kernel_backend, self.app))

    @property
    def job_backend(self) -> JobBackend:
        return self._get("job_backend", lambda: _configured(self.app.job_backend_class, self.app))

    @property
    def dataset_cache(self) -> DatasetCache:
        return self._get(
            "dataset_cache", lambda: _configured(self.app.dataset_cache_class, self.app)
        )

    @property
    def resources(self) -> ResourceService:
        return self._get("resources", self._build_resources)

    @property
    def datasets(self) -> DatasetCatalog:
        return self._get("datasets", self._build_datasets)

    @property
    def jobs(self) -> JobService:
        return self._get("jobs", self._build_jobs)

    @property
    def models(self) -> ModelRegistry:
        return self._get("models", self._build_models)

    def _build_resources(self) -> ResourceService:
        from .resources.service import ResourceService

        app = self.app
        server = getattr(app, "serverapp", None)
        root = (
            server.root_dir
            if server is not None
            else app.config.ServerApp.get("root_dir") or os.environ.get("LABRIG_ROOT_DIR")
        )
        service = ResourceService(self.db, root_dir=root or None, parent=app)
        service.admin_users = frozenset(app.admin_users)
        if "scratch_root" not in app.config.ResourceService:
            service.scratch_root = str(Path(app.data_dir) / "scratch")
        # Kernels see the datasets mounted on this host.
        service.kernel_env_hooks.append(lambda path: self.datasets.kernel_env(path))
        # ... and kernel pods mount them from the cluster's cache when the catalog has one.
        service.kernel_pod_mount_hooks.append(
            lambda: self.datasets.kernel_pod_mounts() if self.datasets.on_cluster else []
        )
        return service

    def _build_datasets(self) -> DatasetCatalog:
        from labrig.dataset_mounts.catalog import DatasetCatalog

        catalog = DatasetCatalog(
            self.db,
            self.dataset_cache,
            local_roots=self.app.local_dataset_roots or [jupyter_root(self.app)],
        )
        catalog.admin_users = frozenset(self.app.admin_users)
        return catalog

    def model_source_roots(self) -> list[str]:
        """Where the CLI and the Python API may register model files from (REST and job
        outputs: the Jupyter root only)."""
        return self.app.model_source_roots or [jupyter_root(self.app), tempfile.gettempdir()]

    def _build_models(self) -> ModelRegistry:
        from .models.permissions import ModelPolicy
        from .models.registry import ModelRegistry

        app = self.app
        return ModelRegistry(
            self.db,
            app.model_store_url,
            store_options=dict(app.model_store_options),
            cache_dir=Path(app.data_dir) / "model-cache",
            policy=ModelPolicy.of(
                app.model_register_policy,
                app.model_alias_policy,
                app.model_delete_policy,
                app.admin_users,
            ),
        )

    def _build_jobs(self) -> JobService:
        from .jobs.capacity import SharedLedger
        from .jobs.service import JobService

        jobs = JobService(
            self.db,
            self.app.data_dir,
            self.root_dir or _root_dir(self.app),
            backend=self.job_backend,
        )
        jobs.settings = settings_json(self.app)
        jobs.admin_users = tuple(self.app.admin_users)
        jobs.tokens = self.tokens  # one token cache: a revocation shows in this server at once
        # Jobs take GPUs from the ledger kernels use, mount datasets like kernels do, register
        # their declared outputs as model versions, and are refused while their notebook's
        # scratch disk is over its quota. Each of those services is built when a job first
        # needs it, so reading jobs builds none of them.
        jobs.ledger = SharedLedger(
            jobs.capacity, cast("GpuLedger", _OnFirstUse(lambda: self.resources))
        )
        jobs.dataset_mounts = cast("DatasetMounts", _OnFirstUse(lambda: self.datasets))
        jobs.model_outputs = cast("ModelOutputs", _OnFirstUse(lambda: self.models))
        jobs.notebook_checks.append(lambda path: self.resources.check_scratch(path))
        return jobs

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
        with self._lock:
            db = self._built.get("db")
        if db is not None:
            db.dispose()


def _database(app: LabrigSettings) -> Database:
    """The state database, migrated first when configured to (checked without Alembic when it
    is at this labrig's revision already)."""
    from .store import Database

    db = Database(app.database_url, retry_seconds=app.database_retry_seconds)
    if app.migrate_on_start:
        db.upgrade_if_needed()
    return db


def _configured(cls: Callable[..., B], app: LabrigSettings) -> B:
    """An instance of a configured backend class (a ``Type`` trait, so concrete at run time)."""
    return cls(parent=app)


def _root_dir(app: LabrigSettings) -> str:
    """The Jupyter server's root (notebook paths are relative to it); the CLI's cwd otherwise."""
    serverapp = getattr(app, "serverapp", None)
    return str(getattr(serverapp, "root_dir", None) or os.getcwd())


def jupyter_root(app: LabrigSettings) -> str:
    """The Jupyter server's root directory as this process knows it: the server's own, its
    configured ``ServerApp.root_dir``, ``LABRIG_ROOT_DIR`` (set for kernels), else the current
    directory (the CLI run by hand)."""
    serverapp = getattr(app, "serverapp", None)
    if serverapp is not None and getattr(serverapp, "root_dir", None):
        return str(serverapp.root_dir)
    configured = app.config.ServerApp.get("root_dir") or os.environ.get("LABRIG_ROOT_DIR")
    return str(configured or os.getcwd())


def _config_value(value: Any) -> str:
    """A configured class as the import string a ``Type`` trait accepts; anything else as text."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


def settings_json(app: LabrigSettings) -> dict[str, Any]:
    """The app's configuration as JSON, for a process that must act as this one would."""
    loaded: dict[str, Any] = json.loads(json.dumps(app.config, default=_config_value))
    return loaded


def build_services(app: LabrigSettings, root_dir: str | None = None) -> Services:
    """The services over ``app``'s settings, each built on first use (``Services.build_all()``
    builds them at once).

    ``root_dir``: where notebook paths start, when not the server's root or the current
    directory (a job's supervisor acts for the server that launched it)."""
    return Services(app, root_dir)


def load_services() -> Services:
    """The services for the CLI and for ``labrig.connect()`` inside kernels and job ranks.

    With ``LABRIG_SERVER_URL`` and ``LABRIG_API_TOKEN`` set (REST mode: what labrig gives the
    kernels and ranks it starts), the REST-backed ``labrig.rest.RestServices``, which opens no
    database; otherwise services configured like the server (jupyter_server_config.{py,json},
    LABRIG_* vars) over its database."""
    from .rest.http import rest_settings

    if rest_settings() is not None:
        from .rest import RestServices

        # Same attributes and method shapes as Services (the CLI and the Python API call only
        # those), so callers stay typed against Services.
        return cast("Services", RestServices.from_env())
    from .settings import load_settings

    return build_services(load_settings())
