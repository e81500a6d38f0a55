"""A real PostgreSQL server for tests: ``initdb`` in a private directory, on a private port.

    with PostgresServer() as pg:
        url = pg.new_database()          # postgresql+psycopg://labrig:...@127.0.0.1:PORT/db_1

The server listens on 127.0.0.1 only, with its unix socket inside its own directory, so it
never meets the host's own PostgreSQL. It runs the Debian binaries under
``/usr/lib/postgresql/<version>/bin`` (``make test`` installs them), or the directory named by
``$LABRIG_TEST_PG_BIN``. PostgreSQL refuses to run as root: under root the cluster belongs to
``nobody`` and its programs run as that user.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

USER = "labrig"
# Host connections need this password, so the tests see a URL with a secret in it (and prove
# it is masked in what users see); the unix socket trusts local users for administration.
PASSWORD = "pg-test-secret"
UNPRIVILEGED_USER = "nobody"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this host, or the server would not start."""


def find_bin_dir() -> Path:
    """The newest PostgreSQL's bin directory (Debian keeps each version apart)."""
    configured = os.environ.get("LABRIG_TEST_PG_BIN")
    if configured:
        return Path(configured)

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (pg_ctl) under /usr/lib/postgresql/*/bin or on PATH; "
        "`make postgresql` installs them (apt-get install postgresql)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One throwaway PostgreSQL cluster. ``url`` reaches its ``postgres`` database."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.directory = Path(tempfile.mkdtemp(prefix="labrig-pg-"))
        self.data_dir = self.directory / "data"
        self.socket_dir = self.directory / "sock"
        self.log_file = self.directory / "server.log"
        self.port = 0
        self._owner = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None
        self._databases = itertools.count(1)

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> PostgresServer:
        try:
            self._initdb()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _initdb(self) -> None:
        self.socket_dir.mkdir()
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD + "\n")
        if self._owner is not None:
            # The private directory must be reachable by the server's user, nothing else.
            for path in (self.directory, self.socket_dir, password_file):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            USER,
            "--pwfile",
            str(password_file),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        password_file.unlink()

    def start(self) -> None:
        """Start the server, on the port it had before when it is restarted after ``stop()``."""
        for _attempt in range(3):
            self.port = self.port or free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={self.socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            started = self._run(
                "pg_ctl",
                *("start", "-w", "-t", "60", "-D", str(self.data_dir)),
                *("-l", str(self.log_file), "-o", options),
                check=False,
            )
            if started.returncode == 0:
                return
            self.port = 0  # another process took the port between choosing it and binding
        raise PostgresUnavailable(f"PostgreSQL would not start: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut, as in an outage)."""
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir), check=False)

    def is_running(self) -> bool:
        status = self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        return status.returncode == 0

    def close(self) -> None:
        if self.data_dir.is_dir() and self.is_running():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database on this server; returns its SQLAlchemy URL."""
        name = f"db_{os.getpid()}_{next(self._databases)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the administrator over the private socket; returns psql's output."""
        done = self._run(
            "psql",
            *("-h", str(self.socket_dir), "-p", str(self.port), "-U", USER, "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
        )
        return done.stdout

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_file.exists():
            return "(no server log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command: Sequence[str] = [str(self.bin_dir / program), *args]
        extra: dict[str, Any] = {}
        if self._owner is not None:
            extra = {"user": self._owner.pw_uid, "group": self._owner.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "PGPASSWORD": PASSWORD}
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.directory,
            timeout=120,
            check=False,
            **extra,
        )
        if check and done.returncode != 0:
            raise PostgresUnavailable(
                f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
            )
        return done
