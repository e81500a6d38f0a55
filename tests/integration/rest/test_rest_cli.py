"""The ``labrig`` CLI in REST mode against a real server: it prints what it prints over the
database, runs jobs (one registering a model from its rank over REST), and refuses clearly
what needs the database."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from rest_rig import BIN, OWNER, Client
from server_process import TOKEN, ServerProcess, wait_until

pytestmark = pytest.mark.slow


def write_notebook(path: Path, parameters: str, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell, nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)


def database_mode(client: Client, server: ServerProcess) -> Client:
    """The same terminal as ``client`` without the REST variables: the server's database."""
    direct = Client.__new__(Client)
    direct.server, direct.url = server, client.url
    direct.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    direct.env.update(
        LABRIG_DATA_DIR=str(server.data_dir), LABRIG_USER=OWNER, LABRIG_ROOT_DIR=str(server.root)
    )
    for name in ("LABRIG_DATABASE_URL", "LABRIG_SERVER_URL", "LABRIG_API_TOKEN"):
        direct.env.pop(name, None)
    return direct


def test_the_cli_prints_the_same_over_rest_as_over_the_database(
    client: Client, server: ServerProcess, root: Path
) -> None:
    (root / "w.bin").write_bytes(b"w" * 100)
    registered = client.labrig("models", "register", "net", "w.bin", "--metric", "acc=0.9")
    assert registered.strip() == "registered net/1 (1 files, 100 bytes)"
    client.labrig("models", "alias", "net", "production", "1")
    client.labrig("resources", "request", "nb.ipynb", "--cpus", "1", "--memory", "1Gi")
    (root / "src").mkdir()
    (root / "src" / "a.txt").write_text("a")
    client.labrig("datasets", "add", "small", (root / "src").as_uri())
    direct = database_mode(client, server)
    for command in (
        ("models", "ls"),
        ("models", "show", "net"),
        ("models", "show", "net@production"),
        ("models", "history", "net"),
        ("resources", "ls"),
        ("resources", "show", "nb.ipynb"),
        ("resources", "profiles"),
        ("datasets", "ls"),
        ("datasets", "show", "small"),
        ("jobs", "ls"),
    ):
        assert client.labrig(*command) == direct.labrig(*command), command
    assert "production" in client.labrig("models", "show", "net@production")
    warmed = client.labrig("datasets", "warm", "small")
    assert warmed.startswith("small "), warmed
    assert "1 files, 1 B (0 already cached, 1 B fetched)" in warmed
    # The server's last warm-up is the server's to show: over the database it is not known.
    assert "state=succeeded" in client.labrig("datasets", "show", "small")


def test_jobs_submitted_followed_and_registering_from_their_rank_over_rest(
    client: Client, server: ServerProcess, root: Path
) -> None:
    # Until the server hands ranks their URL and token, the notebook sets them itself. A rank
    # then uploads its registration over REST, or, where the job has a folder for staging
    # (LABRIG_JOB_STORE), stages it there for the server to register when the job ends.
    write_notebook(
        root / "train.ipynb",
        "epochs = 1\nserver_url = ''\ntoken = ''",
        "import os, tempfile\n"
        "os.environ.update(LABRIG_SERVER_URL=server_url, LABRIG_API_TOKEN=token)\n"
        "import labrig.models\n"
        "out = os.path.join(tempfile.mkdtemp(), 'model.bin')\n"
        "open(out, 'wb').write(b'trained' * epochs)\n"
        "print('registered', labrig.models.register('from-job', out)['ref'], flush=True)",
    )
    params = ("-p", "epochs", "3", "-p", "server_url", client.url, "-p", "token", TOKEN)
    done = client.labrig("jobs", "submit", "train.ipynb", *params, "--cpus", "0.5", "--wait")
    job_id = done.split()[1]
    assert done.splitlines()[0] == f"job {job_id} SUCCEEDED", done
    assert job_id in client.labrig("jobs", "ls")
    assert "registered from-job" in client.labrig("jobs", "logs", job_id)
    shown = json.loads(client.labrig("jobs", "show", job_id, "--json"))
    assert shown["spec"]["parameters"]["epochs"] == 3  # typed from the notebook's cell
    version = wait_until(lambda: _version(server, "from-job/versions/1"), "the job's version")
    assert version["lineage"]["job_id"] == job_id
    assert version["size"] == len(b"trained") * 3
    assert version["user"] == OWNER
    assert client.labrig("models", "load", "from-job/1").strip().endswith("model.bin")


def test_jobs_cancelled_rerun_deleted_and_scheduled_over_rest(
    client: Client, server: ServerProcess, root: Path
) -> None:
    write_notebook(root / "nap.ipynb", "seconds = 60", "import time\ntime.sleep(seconds)")
    job = json.loads(client.labrig("jobs", "submit", "nap.ipynb", "--cpus", "0.25", "--json"))
    cancelled = json.loads(client.labrig("jobs", "cancel", job["id"], "--json"))
    assert cancelled["status"] in ("CANCELLED", "CANCELLING"), cancelled
    # Rerun reads the snapshot's parameters (over REST) to type `-p seconds 0`.
    rerun = client.labrig("jobs", "rerun", job["id"], "-p", "seconds", "0", "--wait", "--json")
    again = json.loads(rerun)
    assert again["status"] == "SUCCEEDED", again
    assert again["spec"]["parameters"] == {"seconds": 0}
    assert client.labrig("jobs", "rm", job["id"]).strip() == f"deleted {job['id']}"
    assert job["id"] not in client.labrig("jobs", "ls")

    made = json.loads(client.labrig("jobs", "submit", "nap.ipynb", "--cron", "0 3 * * *", "--json"))
    assert made["cron"] == "0 3 * * *"
    assert made["id"] in client.labrig("jobs", "schedules", "ls")
    paused = json.loads(client.labrig("jobs", "schedules", "pause", made["id"], "--json"))
    assert paused["paused"] is True
    assert client.labrig("jobs", "schedules", "rm", made["id"]).strip().endswith(made["id"])
    assert server.call("job-schedules")["items"] == []


def _version(server: ServerProcess, path: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = next(
        (m for m in server.call("models")["items"] if m["name"] == path.split("/")[0]), None
    )
    return server.call(f"models/{path}") if found else None


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (("db", "current"), "`labrig db` works on the state database"),
        (("models", "gc"), "run `labrig models gc` in the server's terminal"),
        (("datasets", "cache", "--evict"), "run `labrig datasets cache --evict`"),
    ],
)
def test_what_needs_the_database_refuses_saying_where_to_run_it(
    client: Client, command: tuple[str, ...], says: str
) -> None:
    out = client.labrig(*command, code=1)
    assert out.startswith("labrig: error: "), out
    assert says in out
