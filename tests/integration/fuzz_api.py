"""schemathesis against labrig's openapi.yaml, on a live Jupyter server with labrig.

The server is a real ``jupyter server`` process with a token, on a temporary root and data dir
(SQLite), seeded with one of everything (a notebook, a dataset, a model with a version and an
alias, a cancelled job, a paused schedule) so that generated requests reach past "not found".
schemathesis generates valid and invalid requests for every operation (positive and negative
modes) and checks each answer: no 5xx, a documented status, content type and headers, a body
that fits the documented schema, invalid input refused, and nothing answered without the token.

``tests/integration/test_fuzz_api.py`` runs a bounded profile in the normal test run;
``make fuzz`` runs ``python tests/integration/fuzz_api.py`` (a longer profile, with stateful
sequences) and prints the summary. ``fuzz_users.py`` runs the same against a server with several
users (``LiveServer(users=...)``), as one user against another's objects.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat

SPEC = Path(str(files("labrig").joinpath("openapi.yaml")))
HERE = Path(__file__).parent
HOOKS = HERE / "fuzz_hooks.py"
API_PREFIX = "/labrig/api/v1"
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
#: How Jupyter Server logs a request that was answered 5xx.
SERVER_ERROR_LINE = re.compile(r"\] 5\d\d [A-Z]+ /")

#: Every check about the answers but positive_data_acceptance: a schema-valid request may name
#: an object that does not exist or a page token this server never issued, which no schema can
#: describe (its 404 or 400 is right).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "ignored_auth",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
    ]
)


@dataclass(frozen=True)
class Profile:
    max_examples: int
    phases: str
    timeout: float  # seconds for the whole schemathesis run before it is stopped


PROFILES = {
    "bounded": Profile(max_examples=6, phases="examples,coverage,fuzzing", timeout=600),
    "long": Profile(max_examples=150, phases="examples,coverage,fuzzing,stateful", timeout=3600),
}


@dataclass(frozen=True)
class FuzzCaller:
    """Who the run acts as and what it checks: ``token`` None sends no credentials; ``env``
    reaches the hooks (the rules between users, in ``fuzz_user_hooks.py``)."""

    token: str | None
    checks: str = CHECKS
    hooks: Path = HOOKS
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FuzzResult:
    exit_code: int
    output: str
    report: dict[str, Any]
    seconds: float

    @property
    def operations(self) -> int:
        return int(self.report["operations"]["tested"])

    @property
    def examples(self) -> int:
        return int(self.report["test_cases"]["generated"])

    def summary(self) -> str:
        ops = self.report["operations"]
        failures = sum(f["count"] for f in self.report["failures"])
        return (
            f"labrig fuzz: {ops['tested']}/{ops['total']} operations tested "
            f"({ops['skipped']} skipped, {ops['errored']} errored), {self.examples} test cases, "
            f"{failures} failures, {len(self.report['errors'])} errors, {self.seconds:.0f} s"
        )


class ApiError(Exception):
    def __init__(self, code: int, message: str, body: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.body = body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """``jupyter server`` with labrig in a subprocess; its log goes to ``server.log``."""

    def __init__(self, workdir: Path, users: dict[str, str] | None = None) -> None:
        """``users``: token -> user name, each a user of ``identities.TokenUsers`` (the run
        with several identities); without it the server has one user, with its own token."""
        self.workdir = workdir
        self.users = users or {}
        self.root = workdir / "root"
        self.data = workdir / "data"
        self.log_path = workdir / "server.log"
        #: The token ``call`` sends unless told otherwise: the first user's, with ``users``.
        self.token = next(iter(self.users), None) or secrets.token_hex(16)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}{API_PREFIX}"
        self.seeded: dict[str, list[str]] = {}
        self.body_seeded: dict[str, list[str]] = {}

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """The API as the user of ``token`` (the server's own one when not given)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"token {token or self.token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            body = err.read().decode()
            raise ApiError(err.code, f"{method} {path}: {err.code} {body}", body) from err
        return json.loads(raw) if raw else None

    @contextmanager
    def running(self) -> Iterator[LiveServer]:
        for folder in (self.root, self.data):
            folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "LABRIG_DATA_DIR": str(self.data)}
        env.pop("LABRIG_DATABASE_URL", None)
        command = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.jpserver_extensions=labrig=True",
            f"--LabrigApp.data_dir={self.data}",
            # Dataset mounts stay in the run's folder (they are bind mounts where allowed).
            f"--DatasetCache.mount_root={self.workdir / 'mounts'}",
            *self.identity_options(env),
        ]
        with self.log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                self.wait_until_ready(process)
                yield self
            finally:
                self.stop(process)

    def identity_options(self, env: dict[str, str]) -> list[str]:
        """With ``users``: a configuration file naming ``identities.TokenUsers`` as the identity
        provider (``env`` gets this folder on its path to import it from)."""
        if not self.users:
            return []
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        config = self.workdir / "identities_config.json"
        config.write_text(
            json.dumps(
                {
                    "ServerApp": {"identity_provider_class": "identities.TokenUsers"},
                    "TokenUsers": {"users": self.users},
                }
            )
        )
        return [f"--config={config}"]

    def wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter server exited: {self.log_path.read_text()[-3000:]}")
            try:
                self.call("GET", "/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        raise TimeoutError(f"jupyter server did not answer in 120 s; see {self.log_path}")

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Stop what the run left going (jobs, mounts), then the server."""
        if process.poll() is None:
            try:
                self.release_everything()
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def release_everything(self) -> None:
        """Cancel running jobs, unmount datasets and delete the jobs that ended (a job keeps
        its datasets mounted until it is deleted), as each user (each sees only their own)."""
        for token in list(self.users) or [self.token]:
            for status in ("QUEUED", "STARTING", "RUNNING"):
                jobs = self.call("GET", f"/jobs?status={status}&limit=500", token=token)
                for job in jobs["items"]:
                    self.call_allowing_conflict("POST", f"/jobs/{job['id']}/cancel", token)
            for dataset in self.call("GET", "/datasets?limit=500", token=token)["items"]:
                if dataset["mount_path"]:
                    path = f"/datasets/{dataset['name']}/mount"
                    self.call_allowing_conflict("DELETE", path, token)
            for job in self.call("GET", "/jobs?limit=500", token=token)["items"]:
                if job["status"] in FINAL:
                    self.call_allowing_conflict("DELETE", f"/jobs/{job['id']}", token)

    def call_allowing_conflict(self, method: str, path: str, token: str | None = None) -> None:
        try:
            self.call(method, path, token=token)
        except ApiError as err:
            if err.code not in (404, 409):  # gone or ended meanwhile
                raise

    def seed(self) -> None:
        """One of everything, named in the schemathesis config so that requests find it."""
        notebook = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
        )
        notebook.cells = [
            nbformat.v4.new_code_cell("epochs = 1", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("print(epochs)"),
        ]
        (self.root / "fuzz.ipynb").write_text(nbformat.writes(notebook))
        (self.root / "model.bin").write_bytes(b"weights")
        source = self.root / "dataset-source"  # file:// datasets must lie under the root
        source.mkdir(exist_ok=True)
        (source / "a.txt").write_text("a")
        self.call("POST", "/datasets", {"name": "fuzz-data", "source_url": source.as_uri()})
        self.wait_for_warm_up("fuzz-data")
        self.call("POST", "/models/fuzz-model/versions", {"path": "model.bin"})
        self.call("PUT", "/models/fuzz-model/aliases/production", {"version": 1})
        job = self.call("POST", "/jobs", {"notebook_path": "fuzz.ipynb", "name": "fuzz-job"})
        self.call_allowing_conflict("POST", f"/jobs/{job['id']}/cancel")
        schedule = self.call(
            "POST",
            "/job-schedules",
            {"cron": "0 3 * * *", "paused": True, "job": {"notebook_path": "fuzz.ipynb"}},
        )
        self.seeded = {
            "name": ["fuzz-data", "fuzz-model"],
            "notebook_path": ["fuzz.ipynb"],
            "job_id": [job["id"]],
            "sha256": [job["snapshot_sha256"]],
            "schedule_id": [schedule["id"]],
            "version": ["1", "latest", "production"],
            "alias": ["production", "staging"],
            "path": ["model.bin"],
        }

    def wait_for_warm_up(self, name: str) -> None:
        self.call("POST", f"/datasets/{name}/warm")
        self.wait_until(
            lambda: self.call("GET", f"/datasets/{name}/warm")["state"] in ("succeeded", "failed")
        )

    def wait_for_job(self, job_id: str) -> Any:
        """The job once it ended."""
        self.wait_until(lambda: self.call("GET", f"/jobs/{job_id}")["status"] in FINAL)
        return self.call("GET", f"/jobs/{job_id}")

    @staticmethod
    def wait_until(done: Callable[[], bool], seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"seeding waited over {seconds} s for {done}")
            time.sleep(0.2)

    def config(self) -> str:
        """schemathesis.toml: half of each path parameter is a seeded object's identifier, and
        a third of the submitted notebooks are the seeded one (the hooks cancel those jobs), as
        are the body fields of ``body_seeded`` (a body field -> seeded values)."""
        dictionaries = {**self.seeded, **self.body_seeded}
        lines = ["[dictionaries]"]
        lines += [
            f"{key} = {{ values = {json.dumps(values)} }}" for key, values in dictionaries.items()
        ]
        lines.append("[parameters]")
        lines += [
            f'"path.{key}" = {{ dictionary = "{key}", probability = 0.5 }}' for key in self.seeded
        ]
        for body_path in ("body.notebook_path", "body.job.notebook_path"):
            lines.append(f'"{body_path}" = {{ dictionary = "notebook_path", probability = 0.3 }}')
        lines += [
            f'"body.{key}" = {{ dictionary = "{key}", probability = 0.5 }}'
            for key in self.body_seeded
        ]
        return "\n".join(lines) + "\n"


def run_schemathesis(
    server: LiveServer,
    profile: Profile,
    *extra: str,
    spec_path: Path = SPEC,
    caller: FuzzCaller | None = None,
) -> FuzzResult:
    """Run ``st run`` against the server as ``caller`` (the server's own token when not given);
    ``extra`` narrows it (``--include-path``, ...)."""
    caller = caller or FuzzCaller(server.token)
    config = server.workdir / "schemathesis.toml"
    config.write_text(server.config())
    report = server.workdir / f"report-{secrets.token_hex(4)}.json"
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    credentials = ["--header", f"Authorization: token {caller.token}"] if caller.token else []
    command = [
        st,
        "--config-file",
        str(config),
        "run",
        str(spec_path),
        "--url",
        server.api_url,
        *credentials,
        "--checks",
        caller.checks,
        "--mode",
        "all",
        "--phases",
        profile.phases,
        "--max-examples",
        str(profile.max_examples),
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
        *extra,
    ]
    env = {
        **os.environ,
        **caller.env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "SCHEMATHESIS_HOOKS": str(caller.hooks),
        "LABRIG_FUZZ_URL": server.api_url,
        "LABRIG_FUZZ_TOKEN": caller.token or "",
    }
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=server.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=profile.timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report (exit {done.returncode}):\n{output}")
    return FuzzResult(done.returncode, output, json.loads(report.read_text()), seconds)


def server_errors_logged(server: LiveServer) -> list[str]:
    """Tracebacks and 5xx answers in the server's log (a check independent of schemathesis)."""
    lines = server.log_path.read_text(errors="replace").splitlines()
    return [line for line in lines if "Traceback" in line or SERVER_ERROR_LINE.search(line)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="long")
    parser.add_argument("--max-examples", type=int, help="per operation; overrides the profile")
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    if args.max_examples:
        profile = Profile(args.max_examples, profile.phases, profile.timeout)
    with tempfile.TemporaryDirectory(prefix="labrig-fuzz-") as tmp:
        server = LiveServer(Path(tmp))
        with server.running():
            server.seed()
            result = run_schemathesis(server, profile)
        print(result.output)
        errors = server_errors_logged(server)
        print("\n".join(errors) or "server log: no tracebacks, no 5xx")
        print(result.summary())
    return 0 if result.exit_code == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
