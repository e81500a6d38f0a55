"""The labrig Jupyter server extension."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp

from . import server_url
from ._version import __version__
from .errors import Unavailable
from .handlers import routes
from .jobs.secret_settings import DATABASE_URL_ENV
from .jobs.ticker import start_job_ticker
from .models.background import periodic_gc
from .resources.backend import set_current as set_current_kernel_backend
from .resources.restarts import KernelRestarts
from .resources.runtime import KernelApi, set_kernel_api
from .resources.runtime import set_current as set_current_resources
from .services import Services, build_services
from .settings import CONFIG_FILE_ENV, LabrigSettings

#: labrig's kernel provisioners, as registered in ``jupyter_client.kernel_provisioners``.
PROVISIONERS = {
    "labrig-local-provisioner": "labrig.kernels.provisioner:LabrigLocalProvisioner",
    "labrig-kubernetes-provisioner": "labrig.kernels.pod:LabrigKubernetesProvisioner",
}


class LabrigApp(LabrigSettings, ExtensionApp):
    """Kernel resources, cached datasets, notebook jobs and a model registry for JupyterLab.

    Its settings (``data_dir``, ``database_url``, the backends, ...) are ``LabrigSettings``
    (``settings.py``), which the CLI reads without importing Jupyter Server.
    """

    name = "labrig"
    version = __version__
    load_other_extensions = True

    services: Services
    kernel_restarts: KernelRestarts

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
        # Kernels, terminals and job ranks started by this server find the same data directory
        # and, when it was started with `--config FILE`, the same configuration. Never the
        # database URL: kernels reach labrig through the API with a token of their own
        # (job supervisors get the URL from the job backend).
        os.environ["LABRIG_DATA_DIR"] = self.data_dir
        config_file = getattr(self.serverapp, "config_file", "") if self.serverapp else ""
        if config_file:
            os.environ[CONFIG_FILE_ENV] = os.path.abspath(config_file)
        set_current_resources(self.services.resources)
        self._serve_kernels_api()
        if self.serverapp is not None:
            # A request saved anywhere restarts the notebook's kernel in the server running it.
            self.kernel_restarts = KernelRestarts(
                self.services.resources,
                self.serverapp.kernel_manager,
                self.serverapp.session_manager,
                self.log,
            )
            self.settings["labrig_kernel_restarts"] = self.kernel_restarts
        set_current_kernel_backend(self.services.kernel_backend)
        if self.manage_kernels:
            self._default_to_labrig_provisioner()
        self.log.info("labrig %s: state in %s", __version__, self.services.db.dialect)

    def _serve_kernels_api(self) -> None:
        """Let the kernels this server starts reach its API with their own tokens, and say in
        the log when they cannot."""
        serverapp, configured = self.serverapp, self.kernel_server_url
        set_kernel_api(
            KernelApi(
                tokens=self.services.tokens,
                local_url=lambda: server_url.for_local_kernels(configured, serverapp),
                pod_url=server_url.for_pods(configured),
            )
        )
        pods = self.services.kernel_backend.kind != "local"  # kernels elsewhere: pods
        for warning in server_url.unreachable_warnings(configured, serverapp, pods):
            self.log.warning("labrig: %s", warning)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    def _default_to_labrig_provisioner(self) -> None:
        """Make the kernel backend's provisioner the default one, unless an admin chose
        another."""
        from jupyter_client.provisioning.factory import KernelProvisionerFactory

        factory = KernelProvisionerFactory.instance()
        register_provisioners(factory)
        configured = "default_provisioner_name" in self.config.get("KernelProvisionerFactory", {})
        if configured or os.environ.get(KernelProvisionerFactory.default_provisioner_name_env):
            return
        self._previous_default_provisioner = factory.default_provisioner_name
        factory.default_provisioner_name = self.services.kernel_backend.provisioner_name

    _previous_default_provisioner: str | None = None

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self._give_terminals_the_database(serverapp)
        self.services.jobs.backend.start()
        self._job_ticker = start_job_ticker(self.services.jobs, self.log)
        models, resources = self.services.models, self.services.resources
        self._background_tasks = [
            asyncio.create_task(periodic_gc(models, self.model_gc_interval, self.log)),
            asyncio.create_task(self.kernel_restarts.watch(resources.request_poll_interval)),
            asyncio.create_task(self._resume_warmups()),
        ]

    def _give_terminals_the_database(self, serverapp: Any) -> None:
        """A terminal is a shell of the server's own user: the labrig CLI there opens the
        server's database, also one named only on the server's command line (kernels get a
        token instead; the terminals extension has made its manager by now)."""
        terminals = serverapp.web_app.settings.get("terminal_manager")
        if terminals is not None:
            terminals.extra_env = {
                **(terminals.extra_env or {}),
                DATABASE_URL_ENV: self.database_url,
            }

    async def _resume_warmups(self) -> None:
        resumed = await asyncio.to_thread(self.services.datasets.resume_warmups)
        if resumed:
            self.log.info("labrig: resumed interrupted warm-ups of %s", ", ".join(resumed))

    async def stop_extension(self) -> None:
        ticker = getattr(self, "_job_ticker", None)
        if ticker is not None:
            ticker.stop()
        for task in getattr(self, "_background_tasks", []):
            task.cancel()
        self.services.jobs.backend.stop()
        await self._revoke_kernel_tokens()
        set_current_resources(None)
        self.services.kernel_backend.close()
        set_current_kernel_backend(None)
        if self._previous_default_provisioner is not None:
            from jupyter_client.provisioning.factory import KernelProvisionerFactory

            factory = KernelProvisionerFactory.instance()
            factory.default_provisioner_name = self._previous_default_provisioner
        self.services.close()

    async def _revoke_kernel_tokens(self) -> None:
        """The server stops before it shuts its kernels down: their tokens stop working now,
        while the database is still open."""
        set_kernel_api(None)
        if self.serverapp is None:
            return
        kernel_ids = list(self.serverapp.kernel_manager.list_kernel_ids())
        tokens = self.services.tokens
        for kernel_id in kernel_ids:
            await asyncio.to_thread(tokens.revoke, "kernel", kernel_id)


def register_provisioners(factory: Any) -> None:
    """Make labrig's provisioners known to ``factory`` even where the installed metadata
    predates one of them (an editable install made before it was added)."""
    from importlib.metadata import EntryPoint

    for name, value in PROVISIONERS.items():
        if name not in factory.provisioners:
            group = "jupyter_client.kernel_provisioners"
            factory.provisioners[name] = EntryPoint(name=name, value=value, group=group)


main = launch_new_instance = LabrigApp.launch_instance
