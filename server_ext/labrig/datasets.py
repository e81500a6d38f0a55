"""The dataset Python API, for notebooks, scripts and job ranks.

    import labrig.datasets as ds
    ds.add("mnist", "s3://bucket/mnist/", endpoint_url=..., credentials_env={...})
    ds.warm("mnist")                 # progress on stderr; resumes after a crash
    root = ds.path("mnist")          # the read-only mount (mounting it if needed)
    with ds.open("mnist", "train/0.png") as f: ...   # lazy, through the shared cache

Inside a kernel started by labrig, ``path()`` answers from ``LABRIG_DATASET_<NAME>`` first,
and everything else goes through the Jupyter server's REST API (``labrig.connect()``).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import IO, Any

from labrig.dataset_mounts.catalog import DatasetCatalog, WarmUp, env_var
from labrig.dataset_mounts.progress import progress_text
from labrig.store import PageRequest

__all__ = [
    "add",
    "cache_stats",
    "confirm_refresh",
    "kernel_env_for",
    "ls",
    "mount",
    "open",
    "path",
    "refresh",
    "remove",
    "show",
    "unmount",
    "version",
    "warm",
]


#: The dataset versions a job was started with, or this process read (name -> version).
LINEAGE_ENV = "LABRIG_DATASETS"


@cache
def _catalog() -> DatasetCatalog:
    import labrig

    return labrig.connect().datasets


def add(
    name: str,
    source_url: str,
    *,
    include: str | None = None,
    pinned: bool = False,
    private: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Add a dataset (options: endpoint_url, region, anonymous, credentials_env, ...), owned
    by this process's user; ``private``: only they (and administrators) see and use it."""
    body: dict[str, Any] = {
        "name": name,
        "source_url": source_url,
        "pinned": pinned,
        "private": private,
    }
    if include:
        body["include"] = include
    if options:
        body["options"] = options
    return _catalog().create(body)


def ls() -> list[dict[str, Any]]:
    """Every dataset in the catalog (the first 500), as `labrig datasets ls` lists them."""
    return _catalog().list(PageRequest.parse("500", None)).items


def show(name: str) -> dict[str, Any]:
    """One dataset: its source, pinned version, files, bytes, how much is cached, mount."""
    return _catalog().get(name)


def version(name: str) -> str:
    """The pinned version (manifest hash) this notebook reads."""
    catalog = _catalog()
    catalog.visible(name)
    return catalog.versions_of([name])[name]


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def warm(name: str, *, verify: bool = False, progress: bool = True) -> dict[str, Any]:
    """Fetch every file of the pinned version into the host cache (resumable)."""

    def report(w: WarmUp) -> None:
        p = w.as_json()
        percent = f", {p['percent']:.0f}%" if p["percent"] is not None else ""
        sys.stderr.write(f"\r{name}{percent}: {progress_text(p, _mib)}")
        if not w.running:
            sys.stderr.write("\n")

    return _catalog().warm(name, verify=verify, on_progress=report if progress else None)


def refresh(name: str) -> dict[str, Any]:
    """What changed at the source since the pinned version (the pin does not move)."""
    return _catalog().refresh(name)


def confirm_refresh(name: str, new_version: str) -> dict[str, Any]:
    """Move the pin to ``new_version``, the version ``refresh()`` returned."""
    return _catalog().confirm_refresh(name, new_version)


def mount(name: str, path: str | None = None) -> str:
    """Mount the warmed dataset read-only at ``path`` (default: <mount_root>/<name>)."""
    return str(_catalog().mount(name, path)["path"])


def unmount(name: str) -> None:
    """Remove ``name``'s mount; the cache keeps its files."""
    _catalog().unmount(name)


def remove(name: str) -> None:
    """Remove a user-defined dataset from the catalog (its mount too)."""
    _catalog().delete(name)


def path(name: str) -> Path:
    """The read-only directory holding ``name``: the kernel's mount, else mount it now.

    Models registered later from this process name the dataset version read here in their
    lineage (a job's declared datasets are there already).
    """
    from_env = os.environ.get(env_var(name))
    if from_env:
        return Path(from_env)
    mounted = _catalog().get(name).get("mount_path")
    found = Path(mounted) if mounted else Path(mount(name))
    _note_read(name)
    return found


def _note_read(name: str) -> None:
    """Add ``name``'s pinned version to ``LABRIG_DATASETS``, which lineage reads."""
    import json

    try:
        read = json.loads(os.environ.get(LINEAGE_ENV) or "{}")
    except ValueError:
        read = {}
    if not isinstance(read, dict):
        read = {}
    read[name] = version(name)
    os.environ[LINEAGE_ENV] = json.dumps(read)


def open(name: str, file: str, mode: str = "rb") -> IO[bytes]:
    """Open one file of ``name`` lazily through the cache (``labrig://name/file``); in a
    kernel working over REST, from the dataset's mount (``path(name)``)."""
    from labrig.rest.http import rest_settings

    if rest_settings() is not None:  # the cache is the server's: read the mount it made
        return (path(name) / file).open(mode)
    from labrig.dataset_mounts.fs import LabrigFileSystem

    handle: IO[bytes] = LabrigFileSystem(catalog=_catalog()).open(f"{name}/{file}", mode)
    return handle


def cache_stats() -> dict[str, Any]:
    """The cache: its path, objects, bytes used, size limit, free space and hit ratio."""
    return _catalog().cache_stats()


def kernel_env_for(notebook_path: str | None = None) -> dict[str, str]:
    """``LABRIG_DATASET_<NAME>`` for each mounted dataset, for a kernel's environment."""
    return _catalog().kernel_env(notebook_path)
