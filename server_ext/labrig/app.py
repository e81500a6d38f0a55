"""The labrig Jupyter server extension."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp

from ._version import __version__
from .errors import Unavailable
from .handlers import routes
from .jobs.ticker import start_job_ticker
from .models.background import periodic_gc
from .resources.runtime import set_current as set_current_resources
from .services import Services, build_services
from .settings import CONFIG_FILE_ENV, LabrigSettings

#: labrig's kernel provisioner, as registered in ``jupyter_client.kernel_provisioners``.
PROVISIONER_NAME = "labrig-local-provisioner"


class LabrigApp(LabrigSettings, ExtensionApp):
    """Kernel resources, cached datasets, notebook jobs and a model registry for JupyterLab.

    Its settings (``data_dir``, ``database_url``, the backends, ...) are ``LabrigSettings``
    (``settings.py``), which the CLI reads without importing Jupyter Server.
    """

    name = "labrig"
    version = __version__
    load_other_extensions = True

    services: Services

    def initialize_settings(self) -> None:
        # Every service now: the database is migrated, and a bad setting fails the start.
        try:
            self.services = build_services(self).build_all()
        except Unavailable as err:
            # Without its state database labrig would show a broken panel: the server stops,
            # saying which database and what to do (Jupyter would log a traceback and go on).
            self.log.critical("labrig cannot start: %s", err.message)
            self.exit(1)
        self.settings["labrig_services"] = self.services
        # Admin-defined datasets are in the catalog before any kernel or job asks for them.
        self.services.datasets.sync_admin()
        # Kernels and job ranks started by this server find the same state through these.
        os.environ["LABRIG_DATA_DIR"] = self.data_dir
        os.environ["LABRIG_DATABASE_URL"] = self.database_url
        # ... and, when it was started with `--config FILE`, the same configuration.
        config_file = getattr(self.serverapp, "config_file", "") if self.serverapp else ""
        if config_file:
            os.environ[CONFIG_FILE_ENV] = os.path.abspath(config_file)
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
