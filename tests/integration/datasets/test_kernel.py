"""A real kernel started with the environment labrig gives kernels sees its mounts read-only.

The lead wires ``DatasetCatalog.kernel_env`` (also ``labrig.datasets.kernel_env_for``) into the
kernel provisioner; here the kernel is started with that environment directly. Mode bits do
not stop root, so when the tests run as root the kernel drops to ``nobody`` (setpriv, no
capabilities left) first, as a user's kernel would run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_async_kernel

from labrig.app import LabrigApp
from labrig.dataset_mounts.cache import LocalDatasetCache
from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.dataset_mounts.mount_dirs import remove_tree
from labrig.store import Database

NOBODY = 65534
WRAPPER = r"""
import os, shutil, sys
conn, base, as_root = sys.argv[1], sys.argv[2], sys.argv[3] == "root"
if os.geteuid() == 0 and not as_root:
    copy = os.path.join(base, "connection.json")
    shutil.copy(conn, copy)
    os.chmod(copy, 0o644)
    conn = copy
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
else:
    drop = []
cmd = [*drop, sys.executable, "-m", "ipykernel_launcher", "-f", conn]
os.execvp(cmd[0], cmd)
"""

PROBE = r"""
import errno, json, os
root = os.environ["LABRIG_DATASET_KERNEL_DATA"]
out = {"uid": os.getuid(), "read": open(os.path.join(root, "sub", "b.txt")).read()}
attempts = {
    "overwrite": lambda: open(os.path.join(root, "a.txt"), "w"),
    "create": lambda: open(os.path.join(root, "new.txt"), "w"),
    "delete": lambda: os.unlink(os.path.join(root, "a.txt")),
    "mkdir": lambda: os.mkdir(os.path.join(root, "sub", "d")),
}
for name, attempt in attempts.items():
    try:
        attempt()
        out[name] = "allowed"
    except OSError as err:
        out[name] = errno.errorcode[err.errno]
print(json.dumps(out))
"""


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """State that an unprivileged kernel can read (pytest's tmp dirs are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="labrig-kernel-", dir="/tmp"))
    base.chmod(0o755)
    (base / "home").mkdir(mode=0o777)
    (base / "home").chmod(0o777)
    yield base
    remove_tree(base)  # detaches the read-only bind mounts under it first
    assert not base.exists()


@pytest.fixture
def database_url(shared_base: Path) -> str:
    """SQLite only, in the state the unprivileged kernel can read: what is tested is the
    mount, which no database changes."""
    return f"sqlite:///{shared_base / 'data' / 'labrig.db'}"


@pytest.mark.parametrize("user", ["nobody", "root"])
async def test_a_kernel_sees_its_mounts_read_only(
    shared_base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    user: str,
    database_url: str,
) -> None:
    data_dir = shared_base / "data"
    app = LabrigApp(data_dir=str(data_dir))
    cache = LocalDatasetCache(parent=app, mount_root=str(shared_base / "mounts"))
    db = Database(database_url)
    db.upgrade()
    catalog = DatasetCatalog(db, cache)
    if user == "root":
        if os.geteuid() != 0:
            pytest.skip("a kernel as root needs the tests to run as root")
        if why := catalog.protector.bind_unavailable():
            db.dispose()
            pytest.skip(f"only a read-only bind mount stops root, and this host has none: {why}")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "sub" / "b.txt").write_text("b")
    catalog.create({"name": "kernel-data", "source_url": source.as_uri()})
    catalog.warm("kernel-data")
    catalog.mount("kernel-data")
    _version, entries = catalog.manifest("kernel-data")
    url = catalog.source("kernel-data").url
    cached = {e.path: catalog.store.path_of(catalog.store.key_for(url, e)) for e in entries}
    kernel_env = catalog.kernel_env("notebooks/train.ipynb")
    assert kernel_env == {"LABRIG_DATASET_KERNEL_DATA": str(shared_base / "mounts/kernel-data")}

    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "labrig-ro"
    spec_dir.mkdir(parents=True)
    (shared_base / "wrapper.py").write_text(WRAPPER)
    spec = {
        "argv": [
            sys.executable,
            str(shared_base / "wrapper.py"),
            "{connection_file}",
            str(shared_base),
            user,
        ],
        "display_name": "Python (labrig read-only test)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    env = {
        **os.environ,
        **kernel_env,
        "HOME": str(shared_base / "home"),
        "IPYTHONDIR": str(shared_base / "home" / ".ipython"),
    }
    manager, client = await start_new_async_kernel(kernel_name="labrig-ro", env=env)
    try:
        lines: list[str] = []
        reply = await client.execute_interactive(
            PROBE,
            timeout=60,
            output_hook=lambda msg: lines.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        seen = json.loads("".join(lines))
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
        db.dispose()
    assert seen["uid"] == (NOBODY if os.geteuid() == 0 and user == "nobody" else os.geteuid())
    assert seen["read"] == "b"
    # EROFS where the mount is a read-only bind mount, else the modes refuse nobody.
    for attempt in ("overwrite", "create", "delete", "mkdir"):
        assert seen[attempt] in {"EROFS", "EACCES", "EPERM"}, seen
    assert {p: c.read_text() for p, c in cached.items()} == {"a.txt": "a", "sub/b.txt": "b"}
