"""A kernel-like process beside a real Jupyter server with labrig (``ServerProcess``), in REST
mode: ``LABRIG_SERVER_URL`` and ``LABRIG_API_TOKEN`` set, ``LABRIG_USER`` naming someone
else, and ``LABRIG_DATABASE_URL`` pointing where no database is, so anything that opened one
would create a file there (checked after each test) or fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server_process import TOKEN, ServerProcess

BIN = Path(sys.executable).parent
#: The server's user: the owner of everything a REST-mode process makes.
OWNER = "alice"
#: What a REST-mode process claims to be in LABRIG_USER (ignored).
CLAIMED = "mallory"


class Client:
    """Runs ``labrig ...`` and ``python -c ...`` as a kernel or job rank would: in the server's
    root, with the server's URL and a token, and no way to the database."""

    def __init__(self, server: ServerProcess, trap: Path, token: str = TOKEN) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}/"
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "LABRIG_SERVER_URL": self.url,
            "LABRIG_API_TOKEN": token,
            "LABRIG_USER": CLAIMED,
            "LABRIG_DATABASE_URL": f"sqlite:///{trap / 'labrig.db'}",
            "LABRIG_DATA_DIR": str(trap / "data"),
            "LABRIG_ROOT_DIR": str(server.root),
            "XDG_CACHE_HOME": str(trap.parent / "client-cache"),
        }
        self.env.pop("LABRIG_DATASETS", None)

    def run(self, *args: str, code: int = 0, timeout: float = 240) -> str:
        """stdout of a command that must exit with ``code`` (and its stderr when it fails)."""
        done = subprocess.run(
            args,
            cwd=self.server.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == code, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout + (done.stderr if code else "")

    def labrig(self, *args: str, code: int = 0) -> str:
        return self.run("labrig", *args, code=code)

    def python(self, source: str, code: int = 0) -> str:
        return self.run(sys.executable, "-c", source, code=code)


def server_config(folder: Path, mounts: Path, *lines: str) -> dict[str, str]:
    """The environment of a server reading ``lines`` as its config, its dataset mounts under
    ``mounts`` (not the default ~/datasets)."""
    folder.mkdir()
    config = [f"c.DatasetCache.mount_root = {str(mounts)!r}", *lines]
    (folder / "jupyter_server_config.py").write_text("\n".join(config) + "\n")
    return {"JUPYTER_CONFIG_DIR": str(folder)}
