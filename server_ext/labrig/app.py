"""The labrig Jupyter server extension."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Type, Unicode, default

from labrig.dataset_mounts.cache import DatasetCache, LocalDatasetCache

from ._version import __version__
from .handlers import routes
from .jobs.backend import JobBackend
from .jobs.local import LocalJobBackend
from .jobs.ticker import start_job_ticker
from .models.background import periodic_gc
from .resources.backend import KernelBackend, LocalKernelBackend
from .resources.runtime import set_current as set_current_resources
from .services import Services, build_services

#: labrig's kernel provisioner, as registered in ``jupyter_client.kernel_provisioners``.
PROVISIONER_NAME = "labrig-local-provisioner"


class LabrigApp(ExtensionApp):
    """Kernel resources, cached datasets, notebook jobs and a model registry for JupyterLab."""

    name = "labrig"
    version = __version__
    load_other_extensions = True

    data_dir = Unicode(
        config=True,
        help="""Directory for labrig's state: the SQLite database, notebook snapshots, the
        dataset cache and the local model store. Default: $LABRIG_DATA_DIR, else
        <jupyter data dir>/labrig.""",
    )
    database_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the state database. Default: $LABRIG_DATABASE_URL, else
        SQLite (WAL mode) at <data_dir>/labrig.db. Use PostgreSQL, e.g.
        postgresql+psycopg://user@host/labrig, when several servers share one registry.""",
    )
    migrate_on_start = Bool(
        True,
        config=True,
        help="""Upgrade the database schema to this labrig's revision at start. Turn off when
        a platform team runs `labrig db upgrade` as a separate deployment step.""",
    )
    kernel_backend = Type(
        default_value=LocalKernelBackend,
        klass=KernelBackend,
        config=True,
        help="""Where notebook kernels get their resources. Only the local backend exists so far
        (labrig.resources.backend.LocalKernelBackend: processes on this host).""",
    )
    job_backend_class = Type(
        default_value=LocalJobBackend,
        klass=JobBackend,
        config=True,
        help="""Where job ranks run: labrig.jobs.local.LocalJobBackend (torchrun on this host) or
        labrig.k8s.jobs.KubernetesJobBackend (a Kubeflow PyTorchJob or TrainJob per job, queued
        by Kueue when configured).""",
    )
    dataset_cache_class = Type(
        default_value=LocalDatasetCache,
        klass=DatasetCache,
        config=True,
        help="""Where dataset content is cached. Only the local cache exists so far
        (labrig.dataset_mounts.cache.LocalDatasetCache: a host-wide cache on local disk).""",
    )
    manage_kernels = Bool(
        True,
        config=True,
        help="""Start kernels whose kernelspec names no provisioner of its own with labrig's
        (labrig-local-provisioner), so their notebook's resources apply. Kernelspecs that name
        a provisioner keep it. Off: only kernelspecs that name labrig's provisioner get it.""",
    )
    model_store_url = Unicode(
        config=True,
        help="""fsspec URL where model files are stored, content-addressed. Default:
        file://<data_dir>/models; s3://bucket/prefix or oss://bucket/prefix for shared stores.""",
    )
    model_store_options = Dict(
        config=True,
        help="""fsspec storage options of the model store, e.g. {"key": ..., "secret": ...,
        "client_kwargs": {"endpoint_url": "https://oss-cn-hangzhou.aliyuncs.com"}}.""",
    )
    model_gc_interval = Float(
        6 * 3600.0,
        config=True,
        help="""Seconds between garbage collections of the model store (files no version
        references); 0 turns the periodic collection off (`labrig models gc` still works).""",
    )

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.environ.get("LABRIG_DATA_DIR") or str(Path(jupyter_data_dir()) / "labrig")

    @default("database_url")
    def _default_database_url(self) -> str:
        url = os.environ.get("LABRIG_DATABASE_URL")
        return url or f"sqlite:///{Path(self.data_dir).resolve() / 'labrig.db'}"

    @default("model_store_url")
    def _default_model_store_url(self) -> str:
        return (Path(self.data_dir).resolve() / "models").as_uri()

    services: Services

    def initialize_settings(self) -> None:
        self.services = build_services(self)
        self.settings["labrig_services"] = self.services
        # Kernels and job ranks started by this server find the same state through these.
        os.environ["LABRIG_DATA_DIR"] = self.data_dir
        os.environ["LABRIG_DATABASE_URL"] = self.database_url
        set_current_resources(self.services.resources)
        if self.manage_kernels:
            self._default_to_labrig_provisioner()
        self.log.info("labrig %s: state in %s", __version__, self.services.db.dialect)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    def _default_to_labrig_provisioner(self) -> None:
        """Make labrig's provisioner the default one, unless an admin chose another."""
        from jupyter_client.provisioning.factory import KernelProvisionerFactory

        configured = "default_provisioner_name" in self.config.get("KernelProvisionerFactory", {})
        if configured or os.environ.get(KernelProvisionerFactory.default_provisioner_name_env):
            return
        factory = KernelProvisionerFactory.instance()
        self._previous_default_provisioner = factory.default_provisioner_name
        factory.default_provisioner_name = PROVISIONER_NAME

    _previous_default_provisioner: str | None = None

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self.services.jobs.backend.start()
        self._job_ticker = start_job_ticker(self.services.jobs, self.log)
        self._background_tasks = [
            asyncio.create_task(periodic_gc(self.services.models, self.model_gc_interval, self.log))
        ]

    async def stop_extension(self) -> None:
        ticker = getattr(self, "_job_ticker", None)
        if ticker is not None:
            ticker.stop()
        for task in getattr(self, "_background_tasks", []):
            task.cancel()
        self.services.jobs.backend.stop()
        set_current_resources(None)
        if self._previous_default_provisioner is not None:
            from jupyter_client.provisioning.factory import KernelProvisionerFactory

            factory = KernelProvisionerFactory.instance()
            factory.default_provisioner_name = self._previous_default_provisioner
        self.services.close()


main = launch_new_instance = LabrigApp.launch_instance
