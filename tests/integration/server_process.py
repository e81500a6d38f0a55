"""A real Jupyter server with labrig in its own process, to stop, kill and start again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labrig.jobs.supervisor import free_port

#: Not "labrig-...": the server takes such a header for one of labrig's own API tokens.
TOKEN = "server-process-test-token"


class ServerProcess:
    def __init__(self, root: Path, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.root, self.data_dir = root, data_dir
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LABRIG_DATA_DIR": str(self.data_dir), **self.env}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.call("status")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)

    def request(self, path: str, body: Any = None, method: str | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/labrig/api/v1/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method or ("GET" if body is None else "POST"),
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def call(self, path: str, body: Any = None, method: str | None = None) -> Any:
        return self.request(path, body, method)

    def error(self, path: str, body: Any = None, method: str | None = None) -> tuple[int, Any]:
        """The status and JSON body of a request that must fail."""
        try:
            self.request(path, body, method)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")
        raise AssertionError(f"{method or 'GET'} {path} succeeded")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def wait_until(check: Callable[[], Any], what: str, seconds: float = 120) -> Any:
    """``check()``'s first truthy value, polled every 0.2 s for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
