"""Writes through a dataset mount never reach the shared cache, for root too (these machines run
the tests as root), and every mount says honestly what protects it."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dataset_servers import tree_bytes, write_tree

from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.dataset_mounts.mount_dirs import remove_tree
from labrig.dataset_mounts.mount_guard import clone_file, is_read_only_mount, mount_table
from labrig.dataset_mounts.mount_protect import BIND, COPY, REFLINK, MountProtector
from labrig.errors import Unavailable
from labrig.jobs.backend import JobRef
from labrig.jobs.local import LocalJobBackend

FILES = {"a.txt": b"alpha" * 100, "sub/b.txt": b"beta" * 100, "sub/c.bin": os.urandom(5000)}
REFUSED = {errno.EROFS, errno.EPERM, errno.EACCES}


def attempts(root: Path) -> dict[str, Callable[[], object]]:
    """Every way to change a file or directory of the mount."""

    def write(path: Path, mode: str, data: bytes) -> None:
        with open(path, mode) as f:
            f.write(data)

    return {
        "write": lambda: write(root / "a.txt", "r+b", b"CHANGED"),
        "append": lambda: write(root / "sub/b.txt", "ab", b"more"),
        "truncate": lambda: os.truncate(root / "sub/c.bin", 0),
        "rename over": lambda: os.rename(root / "sub/b.txt", root / "a.txt"),
        "delete": lambda: os.unlink(root / "sub/c.bin"),
        "chmod": lambda: os.chmod(root / "a.txt", 0o666),
        "create": lambda: (root / "new.txt").write_bytes(b"new"),
        "mkdir": lambda: os.mkdir(root / "sub" / "d"),
    }


def bind_reason(catalog: DatasetCatalog) -> str | None:
    return catalog.protector.bind_unavailable()


def clone_reason(where: Path) -> str | None:
    where.mkdir(parents=True, exist_ok=True)
    (where / "src").write_bytes(b"x")
    try:
        clone_file(where / "src", where / "dst")
    except OSError as err:
        return f"this filesystem cannot clone files ({err.strerror})"
    return None


def warmed(catalog: DatasetCatalog, tmp_path: Path, mode: str) -> None:
    write_tree(tmp_path / "src", FILES)
    catalog.cache.mount_protection = mode
    catalog.create({"name": "ds", "source_url": (tmp_path / "src").as_uri()})
    catalog.warm("ds")


def cached_bytes(catalog: DatasetCatalog) -> dict[str, bytes]:
    """The cache's own copy of every file, read from the object store (not a mount)."""
    _version, entries = catalog.manifest("ds")
    store = catalog.store
    url = catalog.source("ds").url
    return {e.path: store.path_of(store.key_for(url, e)).read_bytes() for e in entries}


@pytest.mark.parametrize("mode", ["bind", "reflink", "copy"])
def test_root_cannot_write_through_a_mount_into_the_cache(
    catalog: DatasetCatalog, tmp_path: Path, mount_root: Path, mode: str
) -> None:
    if mode == "bind" and (why := bind_reason(catalog)):
        pytest.skip(f"this host makes no read-only bind mounts: {why}")
    if mode == "reflink" and (why := clone_reason(mount_root / ".probe")):
        pytest.skip(f"reflink clones are not possible here: {why}")
    warmed(catalog, tmp_path, mode)
    mounted = catalog.mount("ds")
    expected = {"bind": BIND, "reflink": REFLINK, "copy": COPY}[mode]
    assert mounted["protection"] == expected
    assert catalog.get("ds")["mount_protection"] == expected
    # A second mount of the same dataset: a job's, as its ranks see it.
    env = catalog.mount_for_job(["ds"], tmp_path / "job" / "datasets")
    job_root = Path(env["LABRIG_DATASET_DS"])
    root = Path(mounted["path"])

    outcomes = {}
    for what, attempt in attempts(root).items():
        try:
            attempt()
            outcomes[what] = "done"
        except OSError as err:
            outcomes[what] = errno.errorcode[err.errno]
    if mode == "bind":
        assert all(o in {"EROFS", "EPERM", "EACCES"} for o in outcomes.values()), outcomes
        assert tree_bytes(root) == FILES
    else:
        # A private copy: root may change it at will, and it stays in this mount.
        assert set(outcomes.values()) == {"done"}, outcomes
        assert (root / "new.txt").read_bytes() == b"new"
    assert cached_bytes(catalog) == FILES
    assert tree_bytes(job_root) == FILES
    # The checksums recorded at warm-up still hold.
    _version, entries = catalog.manifest("ds")
    url = catalog.source("ds").url
    assert all(catalog.store.verify(catalog.store.key_for(url, e), e) for e in entries)

    remove_tree(tmp_path / "job")  # as the job backend forgets a job
    catalog.protector.sweep()
    catalog.unmount("ds")
    assert not root.exists()
    assert not job_root.exists()
    assert not [p for p, _ro, _fs in mount_table() if p.startswith(str(tmp_path))]
    assert not list((catalog.store.root / "mounts").glob("*.json"))
    # Nothing left that `rm -r`, eviction or the tmp dir's cleanup would trip over.
    assert catalog.evict(limit=1)["evicted"] == len(FILES)
    subprocess.run(["rm", "-r", str(catalog.store.root)], check=True)


WRITER = r"""
import errno, json, os, sys
import labrig.datasets
root = labrig.datasets.path("ds")
out = {"root": str(root), "read": (root / "a.txt").read_bytes().decode()[:5]}
for what, attempt in {
    "write": lambda: open(root / "a.txt", "r+b").write(b"RANK"),
    "truncate": lambda: os.truncate(root / "a.txt", 1),
    "create": lambda: open(root / "rank.txt", "wb").close(),
    "delete": lambda: os.unlink(root / "sub" / "b.txt"),
}.items():
    try:
        attempt()
        out[what] = "done"
    except OSError as err:
        out[what] = errno.errorcode[err.errno]
print(json.dumps(out))
"""


def test_a_job_rank_writing_through_labrig_datasets_path_is_refused(
    catalog: DatasetCatalog, tmp_path: Path, labrig_env: Path
) -> None:
    if why := bind_reason(catalog):
        pytest.skip(f"this host makes no read-only bind mounts: {why}")
    warmed(catalog, tmp_path, "auto")
    env = catalog.mount_for_job(["ds"], tmp_path / "job" / "datasets")
    rank = subprocess.run(
        [sys.executable, "-c", WRITER],
        env={**os.environ, **env, "RANK": "0"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(rank.stdout.strip().splitlines()[-1])
    assert seen["root"] == env["LABRIG_DATASET_DS"]
    assert seen["read"] == "alpha"
    assert {seen[w] for w in ("write", "truncate", "create", "delete")} == {"EROFS"}, seen
    assert cached_bytes(catalog) == FILES
    remove_tree(tmp_path / "job")
    assert not (tmp_path / "job").exists()


def test_a_bind_mount_that_went_away_is_put_back_when_the_dataset_is_read(
    catalog: DatasetCatalog, tmp_path: Path
) -> None:
    if why := bind_reason(catalog):
        pytest.skip(f"this host makes no read-only bind mounts: {why}")
    warmed(catalog, tmp_path, "auto")
    root = Path(catalog.mount("ds")["path"])
    subprocess.run(["umount", str(root)], check=True)  # as after a host restart
    assert not (root / "a.txt").exists()
    assert catalog.kernel_env() == {"LABRIG_DATASET_DS": str(root)}  # a kernel starts
    assert is_read_only_mount(root)
    assert tree_bytes(root) == FILES
    subprocess.run(["umount", str(root)], check=True)
    assert catalog.get("ds")["mount_protection"] == BIND
    assert tree_bytes(root) == FILES
    catalog.unmount("ds")


UNPRIVILEGED = r"""
import json, os, sys
from labrig.app import LabrigApp
from labrig.dataset_mounts.cache import LocalDatasetCache
from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.store import Database
data, mounts, mode, url = sys.argv[1:5]
cache = LocalDatasetCache(parent=LabrigApp(data_dir=data), mount_root=mounts,
                          mount_protection=mode)
catalog = DatasetCatalog(Database(url), cache)
try:
    mounted = catalog.mount("ds")
except Exception as err:
    print(json.dumps({"error": type(err).__name__, "message": str(err)}))
    sys.exit(0)
root = mounted["path"]
with open(os.path.join(root, "a.txt"), "r+b") as f:
    f.write(b"ROOT")
print(json.dumps({"protection": catalog.get("ds")["mount_protection"],
                  "mounted": mounted["protection"]}))
"""


def run_without_cap_sys_admin(
    catalog: DatasetCatalog, labrig_env: Path, mount_root: Path, mode: str
) -> dict[str, str]:
    """A root process without CAP_SYS_ADMIN, as in a container with Docker's default set, on
    the catalog's database."""
    url = catalog.db.url
    drop = ["setpriv", "--bounding-set=-sys_admin,-linux_immutable", "--inh-caps=-all"]
    done = subprocess.run(
        [*drop, sys.executable, "-c", UNPRIVILEGED, str(labrig_env), str(mount_root), mode, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_SYS_ADMIN as root needs root")
def test_without_cap_sys_admin_a_mount_gets_reflinks_or_says_it_is_not_protected(
    catalog: DatasetCatalog, tmp_path: Path, labrig_env: Path, mount_root: Path
) -> None:
    warmed(catalog, tmp_path, "auto")
    catalog.db.dispose()
    clones = clone_reason(mount_root / ".probe") is None
    seen = run_without_cap_sys_admin(catalog, labrig_env, mount_root, "auto")
    assert seen["protection"] == seen["mounted"]
    if clones:  # Btrfs, XFS with reflink: root's write stayed in the mount's own copy
        assert seen["protection"] == REFLINK
        assert cached_bytes(catalog) == FILES
    else:
        assert seen["protection"].startswith("not protected: no read-only bind mount")
        assert "needs CAP_SYS_ADMIN" in seen["protection"]
        assert "cannot clone files" in seen["protection"]
        # And it is true: root's write reached the cache that every other mount reads.
        assert cached_bytes(catalog)["a.txt"].startswith(b"ROOT")

    refused = run_without_cap_sys_admin(catalog, labrig_env, mount_root, "bind")
    assert refused["error"] == "Unavailable"
    assert "needs CAP_SYS_ADMIN" in refused["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_SYS_ADMIN as root needs root")
def test_without_cap_sys_admin_copy_mode_keeps_the_cache_intact(
    catalog: DatasetCatalog, tmp_path: Path, labrig_env: Path, mount_root: Path
) -> None:
    warmed(catalog, tmp_path, "copy")
    catalog.db.dispose()
    seen = run_without_cap_sys_admin(catalog, labrig_env, mount_root, "copy")
    assert seen["protection"] == COPY
    assert cached_bytes(catalog) == FILES


def test_an_unknown_protection_or_one_the_host_lacks_is_refused(
    catalog: DatasetCatalog, tmp_path: Path, mount_root: Path
) -> None:
    with pytest.raises(ValueError, match="mount_protection must be one of"):
        MountProtector(tmp_path, "sometimes")
    if clone_reason(tmp_path / "clone-probe") is not None:
        warmed(catalog, tmp_path, "reflink")
        with pytest.raises(Unavailable, match="cannot clone files of the cache"):
            catalog.mount("ds")
        assert not (mount_root / "ds").exists()


def test_forgetting_a_job_detaches_its_read_only_dataset_mounts(
    catalog: DatasetCatalog, tmp_path: Path, labrig_env: Path
) -> None:
    if why := bind_reason(catalog):
        pytest.skip(f"this host makes no read-only bind mounts: {why}")
    warmed(catalog, tmp_path, "auto")
    backend = LocalJobBackend()
    backend.bind(labrig_env, tmp_path, f"sqlite:///{labrig_env / 'labrig.db'}")
    layout = backend.layout("job-1")
    env = catalog.mount_for_job(["ds"], layout.datasets)
    assert is_read_only_mount(Path(env["LABRIG_DATASET_DS"]))
    backend.forget(JobRef("job-1", {}, {}, tmp_path))
    assert not layout.root.exists()
    assert not [p for p, _ro, _fs in mount_table() if p.startswith(str(layout.root))]
