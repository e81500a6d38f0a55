"""labrig's settings, apart from the Jupyter server extension that carries them.

``LabrigApp`` (``app.py``) is these settings plus the server extension; the CLI and
``labrig.connect()`` read the same ``c.LabrigApp.*`` configuration through ``load_settings()``
without importing Jupyter Server. The backend classes are named by import string, so reading
the settings imports no backend until a service is built from them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Enum, Float, Integer, List, Type, Unicode, default
from traitlets.config import Config, Configurable

#: Where the CLI and ``labrig.connect()`` find the server's configuration.
CONFIG_FILE_NAME = "jupyter_server_config"
#: Set by a server started with ``--config FILE`` for its kernels, terminals and job ranks:
#: they then read FILE, as that server did, instead of jupyter_server_config.
CONFIG_FILE_ENV = "LABRIG_CONFIG_FILE"


class BackendClass(Type):
    """A ``Type`` trait that imports its classes when it is first read or set, not when the
    settings are made: reading ``database_url`` for ``labrig jobs ls`` imports no backend."""

    def instance_init(self, obj: Any) -> None:
        pass  # ``Type`` imports the named classes here

    def validate(self, obj: Any, value: Any) -> Any:
        self._resolve_classes()
        return super().validate(obj, value)


class LabrigSettings(Configurable):
    """Every ``LabrigApp`` setting (see the README's Configuration table)."""

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
    database_retry_seconds = Float(
        15.0,
        config=True,
        help="""How long a registration waits for a database server that went away (restarting,
        failing over) before it fails; nothing is half-written either way. 0: fail at once.""",
    )
    migrate_on_start = Bool(
        True,
        config=True,
        help="""Upgrade the database schema to this labrig's revision at start. Turn off when
        a platform team runs `labrig db upgrade` as a separate deployment step.""",
    )
    kernel_backend = BackendClass(
        default_value="labrig.resources.backend.LocalKernelBackend",
        klass="labrig.resources.backend.KernelBackend",
        config=True,
        help="""Where notebook kernels run with their resources:
        labrig.resources.backend.LocalKernelBackend (processes on this host, cgroups where it
        allows) or labrig.k8s.kernel_backend.KubernetesKernelBackend (one pod per kernel, with
        the notebook's requests and limits). The server starts kernels with its provisioner.""",
    )
    job_backend_class = BackendClass(
        default_value="labrig.jobs.local.LocalJobBackend",
        klass="labrig.jobs.backend.JobBackend",
        config=True,
        help="""Where job ranks run: labrig.jobs.local.LocalJobBackend (torchrun on this host) or
        labrig.k8s.jobs.KubernetesJobBackend (a Kubeflow PyTorchJob or TrainJob per job, queued
        by Kueue when configured).""",
    )
    dataset_cache_class = BackendClass(
        default_value="labrig.dataset_mounts.cache.LocalDatasetCache",
        klass="labrig.dataset_mounts.cache.DatasetCache",
        config=True,
        help="""Where dataset content is cached: labrig.dataset_mounts.cache.LocalDatasetCache (a
        host-wide cache on local disk) or labrig.k8s.fluid.FluidDatasetCache (Fluid or PVCs in
        a Kubernetes cluster, mounted by job and kernel pods).""",
    )
    manage_kernels = Bool(
        True,
        config=True,
        help="""Start kernels whose kernelspec names no provisioner of its own with the kernel
        backend's (labrig-local-provisioner, or labrig-kubernetes-provisioner for
        KubernetesKernelBackend), so their notebook's resources apply. Kernelspecs that name
        another provisioner keep it; those that name one of labrig's get the kernel backend's
        (a kernelspec naming labrig-local-provisioner starts a pod under
        KubernetesKernelBackend). Off: only kernelspecs that name labrig's provisioner get it.""",
    )
    kernel_server_url = Unicode(
        "",
        config=True,
        help="""The URL at which the kernels and job ranks labrig starts reach this Jupyter
        server, base URL included (e.g. ``http://jupyter.labrig.svc:8888/``). They get it as
        ``$LABRIG_SERVER_URL`` with a token scoped to the kernel or job (``$LABRIG_API_TOKEN``),
        never the database URL, and ``import labrig`` and the CLI inside them use the REST
        API. Empty: the server's own URL as it listens, right for kernels on this host; set it
        when kernels run in pods (``KubernetesKernelBackend``).""",
    )
    model_store_url = Unicode(
        config=True,
        help="""fsspec URL where model files are stored, content-addressed. Default:
        file://<data_dir>/models; s3://bucket/prefix or oss://bucket/prefix for shared stores.""",
    )
    model_store_options = Dict(
        config=True,
        help="""fsspec storage options of the model store. s3:// (s3fs): e.g.
        {"client_kwargs": {"endpoint_url": ...}} for a non-AWS endpoint; oss:// (ossfs):
        {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com"} (or $OSS_ENDPOINT). Credentials:
        "key" and "secret" (and "token") here, else the environment of the server, its kernels
        and jobs (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or OSS_ACCESS_KEY_ID and
        OSS_ACCESS_KEY_SECRET); labrig never stores or shows them. "default_block_size": bytes
        per uploaded part (default 64 MiB, at least 5 MiB); larger files go up in parts.""",
    )
    model_gc_interval = Float(
        6 * 3600.0,
        config=True,
        help="""Seconds between garbage collections of the model store (files no version
        references); 0 turns the periodic collection off (`labrig models gc` still works).""",
    )

    admin_users = List(
        Unicode(),
        config=True,
        help="""Users (Jupyter Server user names; for the CLI and kernels, $LABRIG_USER or the
        operating-system user) who administer labrig: they see and act on every user's jobs,
        schedules, kernel resources, datasets and model versions.""",
    )
    admins_from_authorizer = Bool(
        False,
        config=True,
        help="""Also treat as administrators the users whom Jupyter Server's Authorizer allows
        the action "write" on the resource "labrig:admin" (JupyterHub scopes, a custom
        Authorizer). Off by default because the default Authorizer allows everything.""",
    )
    local_dataset_roots = List(
        Unicode(),
        config=True,
        help="""Directories whose files users may add as datasets with a file:// source (the
        panel, the REST API, `labrig datasets add` and labrig.datasets.add). A source
        elsewhere, or one reached through a symlink that leads elsewhere, is refused. Default:
        the Jupyter server's root directory. Datasets the administrator defines
        (DatasetCache.datasets) may name any directory.""",
    )
    model_source_roots = List(
        Unicode(),
        config=True,
        help="""Directories whose files `labrig models register` and labrig.models.register may
        register as model versions. A path elsewhere, or one reached through a symlink that
        leads elsewhere, is refused. Default: the Jupyter server's root directory and the
        system's temporary directory. The REST API registers only files under the Jupyter
        root, and a job only declared outputs under it.""",
    )
    model_upload_max_bytes = Integer(
        64 * 2**30,
        min=1,
        config=True,
        help="""The largest model version (as an uncompressed tar of its files) that a kernel or
        job working through the REST API (labrig.models.register there) may upload, in bytes.
        A larger upload is refused before any of it is stored. Default 64 GiB. It replaces
        ServerApp.max_body_size for this one route only.""",
    )

    model_register_policy = Enum(
        ("owner", "anyone", "admins"),
        default_value="anyone",
        config=True,
        help="""Who may register new versions of a model: "owner" (whoever created the model,
        by registering its first version), "anyone", or "admins" (LabrigApp.admin_users only;
        then only they create models too). Default "anyone": a new version changes nothing
        anyone relies on until an alias moves to it, and teams retrain each other's models.
        Administrators may always.""",
    )
    model_alias_policy = Enum(
        ("owner", "anyone", "admins"),
        default_value="owner",
        config=True,
        help="""Who may point, move and remove a model's aliases (production, staging, ...):
        "owner" (whoever created the model), "anyone", or "admins". Default "owner": an alias
        is what others load, so moving it is the model owner's call. Administrators may
        always.""",
    )
    model_delete_policy = Enum(
        ("owner", "anyone", "admins"),
        default_value="owner",
        config=True,
        help="""Who may delete a model or one of its versions: "owner" (whoever created the
        model; for a version, also whoever registered it), "anyone", or "admins". Default
        "owner". Administrators may always.""",
    )

    @default("data_dir")
    def _default_data_dir(self) -> str:
        from jupyter_core.paths import jupyter_data_dir

        return os.environ.get("LABRIG_DATA_DIR") or str(Path(jupyter_data_dir()) / "labrig")

    @default("database_url")
    def _default_database_url(self) -> str:
        url = os.environ.get("LABRIG_DATABASE_URL")
        return url or f"sqlite:///{Path(self.data_dir).resolve() / 'labrig.db'}"

    @default("model_store_url")
    def _default_model_store_url(self) -> str:
        return (Path(self.data_dir).resolve() / "models").as_uri()


def load_config() -> Config:
    """The configuration a Jupyter server would read: ``jupyter_config`` and
    ``jupyter_server_config`` (``.py`` and ``.json``) on the Jupyter config path, or instead of
    the latter the file ``$LABRIG_CONFIG_FILE`` names (as ``jupyter lab --config FILE`` does)."""
    from jupyter_core.application import JupyterApp

    class _Loader(JupyterApp):
        name = "labrig"
        config_file_name = CONFIG_FILE_NAME

    loader = _Loader()
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file:
        loader.config_file = config_file
    loader.load_config_file()
    return loader.config


def load_settings() -> LabrigSettings:
    """The settings of the server's ``LabrigApp``, for the CLI and ``labrig.connect()``."""
    config = load_config()
    if "LabrigApp" in config:
        # LabrigSettings reads its own section; give it what the server's LabrigApp gets.
        config.LabrigSettings.merge(config.LabrigApp)
    return LabrigSettings(config=config)
