"""Where a model came from, read from the kernel's or job rank's environment."""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("labrig", "torch", "safetensors", "numpy")


def _json_env(name: str) -> Any:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Looked up once per process: scanning the installed distributions is slow."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def package_versions() -> dict[str, str]:
    return dict(_installed_versions())


def _may_be_in_git_repository(directory: Path) -> bool:
    """False only when git could not find a repository from ``directory``: no ancestor holds
    a ``.git`` entry or is a bare repository, and no GIT_DIR points elsewhere. A few stat calls
    instead of starting ``git`` for every registration made outside any repository."""
    if os.environ.get("GIT_DIR"):
        return True
    for folder in (directory, *directory.parents):
        if (folder / ".git").exists():
            return True
        if (folder / "HEAD").is_file() and (folder / "objects").is_dir():
            return True
    return False


def git_commit(directory: Path) -> dict[str, Any] | None:
    """The commit (and whether the tree is dirty) of the git repository holding ``directory``."""
    if not _may_be_in_git_repository(directory.absolute()):
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def notebook_path() -> str | None:
    """The notebook this kernel or job runs (Jupyter sets JPY_SESSION_NAME for kernels)."""
    return os.environ.get("LABRIG_NOTEBOOK_PATH") or os.environ.get("JPY_SESSION_NAME") or None


def current_lineage(source: Path | None = None) -> dict[str, Any]:
    """Lineage of a registration made from this process: job, rank, notebook snapshot,
    parameters, dataset versions, package versions and git commit."""
    lineage: dict[str, Any] = {}
    if os.environ.get("LABRIG_JOB_ID"):
        lineage["job_id"] = os.environ["LABRIG_JOB_ID"]
        rank = os.environ.get("LABRIG_RANK") or os.environ.get("RANK")
        if rank is not None and rank.isdigit():
            lineage["rank"] = int(rank)
    notebook = notebook_path()
    if notebook:
        lineage["notebook_path"] = notebook
    if os.environ.get("LABRIG_SNAPSHOT_SHA256"):
        lineage["snapshot_sha256"] = os.environ["LABRIG_SNAPSHOT_SHA256"]
    parameters = _json_env("LABRIG_PARAMETERS")
    if parameters is not None:
        lineage["parameters"] = parameters
    datasets = _json_env("LABRIG_DATASETS")
    if datasets is not None:
        lineage["datasets"] = datasets
    lineage["environment"] = package_versions()
    where = source.parent if source is not None and source.is_file() else source
    repo = git_commit(where or Path.cwd())
    if repo is not None:
        lineage["git"] = repo
    return lineage
