"""Planted secrets go nowhere: a dataset's credentials (in environment variables the
administrator allowed) and the model store's key and secret (in LabrigApp.model_store_options)
are used through the whole loop on the real server (add a dataset, warm it, mount it in a
kernel, run a job that reads it and registers a model, register another over REST, fail with
refused credentials), then searched for in every reply, the kernel's output, the server's log,
the job's logs and output notebook, every file labrig wrote (job.json, snapshots, the cache, the
SQLite database) and a dump of every table; on PostgreSQL the database password too."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from dataset_servers import S3Server, make_files, s3_server
from postgres_server import PASSWORD
from sqlalchemy import MetaData, select

from labrig.services import Services
from labrig.store import Database

__all__ = ["s3_server"]

FILES = make_files(3, 10_000, seed=1313)
#: What the kernel runs: it mounts the dataset itself (labrig.datasets.path) and reads it.
KERNEL_CODE = """import labrig.datasets as ds
root = ds.path("loop-ds")
print(sorted(p.name for p in root.iterdir()), len((root / "part-0000.bin").read_bytes()))
with ds.open("loop-ds", "part-0001.bin") as f:
    print(len(f.read()))
"""
JOB_CELLS = (
    """import labrig.datasets as ds, labrig.models as models
root = ds.path("loop-ds")
print("dataset files:", sorted(p.name for p in root.iterdir()))
open("model.bin", "wb").write(b"weights" + (root / "part-0002.bin").read_bytes())""",
    'print("registered", models.register("loop-rank", "model.bin")["ref"])',
    # The job's API token, kept where the test finds it to search for it like the secrets.
    """import os
with open(os.environ["TOKEN_SEEN"], "w") as f:
    f.write(os.environ["LABRIG_API_TOKEN"])""",
)


class Recorder(logging.Handler):
    """Every record, formatted with its traceback, as a server log would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def planted(
    s3_server: S3Server,
    database_url: str,
    tmp_path: Path,
    labrig_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """The deployment: a dataset bucket and a model store bucket on moto, each with its own
    unique key and secret, the server's configuration naming them (also as the file the
    kernels and ranks read, as `jupyter lab --config FILE` gives them), and no other source
    of AWS credentials."""
    tag = uuid.uuid4().hex[:10]
    values = {
        "ds_bucket": f"loop-ds-{tag}",
        "store_bucket": f"loop-models-{tag}",
        "ds_key": f"DSKEY{tag.upper()}",
        "ds_secret": f"planted-dataset-secret-{uuid.uuid4().hex}",
        "store_key": f"STOREKEY{tag.upper()}",
        "store_secret": f"planted-store-secret-{uuid.uuid4().hex}",
        "mounts": tmp_path / "mounts",
        "database_url": database_url,
    }
    s3_server.put_tree(values["ds_bucket"], {f"data/{k}": v for k, v in FILES.items()})
    s3_server.client.create_bucket(Bucket=values["store_bucket"])
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LOOP_DS_KEY", values["ds_key"])
    monkeypatch.setenv("LOOP_DS_SECRET", values["ds_secret"])
    monkeypatch.setenv("LABRIG_DATABASE_URL", database_url)
    settings = {
        "LabrigApp": {
            "data_dir": str(labrig_env),
            "model_store_url": f"s3://{values['store_bucket']}/labrig",
            "model_store_options": {
                "key": values["store_key"],
                "secret": values["store_secret"],
                "client_kwargs": {"endpoint_url": s3_server.endpoint_url, "region_name": "x"},
                "config_kwargs": {"retries": {"max_attempts": 1}},
            },
        },
        "DatasetCache": {"allowed_credentials_env": ["LOOP_DS_*"]},
        "LocalDatasetCache": {"mount_root": str(values["mounts"])},
    }
    config_dir = tmp_path / "deployment"  # the administrator's file: not labrig's to search
    config_dir.mkdir()
    config_file = config_dir / "jupyter_server_config.json"
    config_file.write_text(json.dumps(settings))
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config_file))
    values["settings"] = settings
    return values


@pytest.fixture
def jp_server_config(planted: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"labrig": True}}, **planted["settings"]}


@pytest.fixture
def server_log(jp_serverapp: Any) -> Iterator[Recorder]:
    """The server's own log and every logger that propagates to the root, at DEBUG."""
    recorder = Recorder()
    root = logging.getLogger()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    jp_serverapp.log.addHandler(recorder)
    yield recorder
    jp_serverapp.log.removeHandler(recorder)
    root.removeHandler(recorder)
    root.setLevel(level)


def database_dump(url: str) -> str:
    """Every row of every table, as text."""
    db = Database(url)
    try:
        tables = MetaData()
        tables.reflect(db.engine)
        with db.engine.connect() as connection:
            rows = [
                repr(row)
                for table in tables.sorted_tables
                for row in connection.execute(select(table))
            ]
    finally:
        db.dispose()
    return "\n".join(rows)


def files_holding(roots: list[Path], needles: list[str]) -> list[str]:
    """``path: secret`` for every file under ``roots`` whose bytes hold one of ``needles``."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {n}" for n in needles if n.encode() in data]
    return found


async def run_in_kernel(jp_fetch: Any, jp_serverapp: Any, replies: list[str]) -> str:
    """Start a kernel through the server's REST API (labrig's provisioner gives it the
    server's state), run KERNEL_CODE in it, stop it; returns what it printed."""
    started = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    replies.append(started.body.decode())
    kernel_id = json.loads(started.body)["id"]
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    out: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(
            KERNEL_CODE,
            timeout=120,
            output_hook=lambda msg: out.append(
                msg["content"].get("text", "") + "".join(msg["content"].get("traceback", []))
            ),
        )
        assert reply["content"]["status"] == "ok", "".join(out)
    finally:
        client.stop_channels()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    return "".join(out)


async def test_planted_secrets_appear_nowhere_after_the_whole_loop(
    planted: dict[str, Any],
    api: Any,
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_root_dir: Path,
    server_services: Services,
    server_log: Recorder,
    s3_server: S3Server,
    labrig_env: Path,
    tmp_path: Path,
) -> None:
    replies: list[str] = []

    async def call(path: str, expect: int, **kwargs: Any) -> Any:
        status, body = await api(path, **kwargs)
        replies.append(json.dumps(body))
        assert status == expect, (path, status, body)
        return body

    async def fetch(*path: str, **kwargs: Any) -> bytes:
        response = await jp_fetch("labrig", "api", "v1", *path, **kwargs)
        replies.append(response.body.decode(errors="replace"))
        body: bytes = response.body
        return body

    # A dataset whose credentials are in allowed variables: added, warmed, mounted by a kernel.
    options = {
        "endpoint_url": s3_server.endpoint_url,
        "credentials_env": {"key": "LOOP_DS_KEY", "secret": "LOOP_DS_SECRET"},
    }
    source = f"s3://{planted['ds_bucket']}/data"
    body = {"name": "loop-ds", "source_url": source, "options": options}
    await call("datasets", 201, method="POST", body=body)
    await call("datasets/loop-ds/warm", 202, method="POST", body={})
    for _ in range(600):
        warm = await call("datasets/loop-ds/warm", 200)
        if warm["state"] not in ("listing", "running"):
            break
        await asyncio.sleep(0.1)
    assert warm["state"] == "succeeded", warm
    kernel_output = await run_in_kernel(jp_fetch, jp_serverapp, replies)
    assert "'part-0000.bin', 'part-0001.bin', 'part-0002.bin'] 10000\n10000" in kernel_output
    shown = await call("datasets/loop-ds", 200)
    assert shown["mount_path"] == str(planted["mounts"] / "loop-ds")

    # One job of one rank: reads the dataset, registers a model itself and declares another.
    token_seen = tmp_path / "job-token"  # outside every folder searched below
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(cell) for cell in JOB_CELLS]
    nbformat.write(nb, jp_root_dir / "train.ipynb")
    job = await call(
        "jobs",
        201,
        method="POST",
        body={
            "notebook_path": "train.ipynb",
            "datasets": ["loop-ds"],
            "outputs": [{"name": "loop-declared", "path": "model.bin"}],
            "env": {"TOKEN_SEEN": str(token_seen)},
        },
    )
    for _ in range(1200):
        done = await call(f"jobs/{job['id']}", 200)
        if done["status"] in ("SUCCEEDED", "FAILED", "CANCELLED") and done.get("finished_at"):
            break
        await asyncio.sleep(0.1)
    logs = await call(f"jobs/{job['id']}/logs", 200)
    assert done["status"] == "SUCCEEDED", (done, logs)
    await fetch("jobs", job["id"], "events")
    output = await fetch("jobs", job["id"], "output")
    # The rank staged its registration: the server registers it with the declared output.
    assert f"registered loop-rank (staged: registered when job {job['id']} ends)".encode() in output
    await call(f"jobs/{job['id']}/metrics", 200)
    for _ in range(600):  # the server registers both once the job ended
        declared = (await api("models/loop-declared/versions/1"))[0]
        if declared == (await api("models/loop-rank/versions/1"))[0] == 200:
            break
        await asyncio.sleep(0.1)
    await call("models/loop-declared/versions/1", 200)
    await call("models/loop-rank/versions/1", 200)

    # Registered over REST, read back, downloaded.
    rest = await call("models/loop-rest/versions", 201, method="POST", body={"path": "model.bin"})
    assert rest["version"] == 1
    await call("models", 200)
    await call("models/loop-rest/versions", 200)
    downloaded = await fetch("models", "loop-rest", "versions", "1", "files", "model.bin")
    assert downloaded == (jp_root_dir / "model.bin").read_bytes()
    await call("jobs", 200)
    await call("datasets", 200)
    await call("status", 200)

    # Refused credentials: the errors name what failed, never the secret.
    s3_server.counter.refused_keys.update({planted["ds_key"], planted["store_key"]})
    try:
        refused = await call("datasets/loop-ds/refresh", 403, method="POST", body={})
        assert refused["reason"] == "access_denied"
        refused = await call(
            "models/loop-rest/versions", 503, method="POST", body={"path": "model.bin"}
        )
        assert refused["reason"] == "store_access_denied"
    finally:
        s3_server.counter.refused_keys.difference_update({planted["ds_key"], planted["store_key"]})

    secrets = [planted["ds_secret"], planted["store_secret"], token_seen.read_text()]
    if planted["database_url"].startswith("postgresql"):
        secrets.append(PASSWORD)
    dump = await asyncio.to_thread(database_dump, planted["database_url"])
    written = await asyncio.to_thread(
        files_holding, [labrig_env, jp_root_dir, planted["mounts"]], secrets
    )
    assert (jp_root_dir / "labrig-jobs" / job["id"]).is_dir()  # the output was searched
    assert (labrig_env / "jobs" / job["id"] / "job.json").is_file()  # and the job's folder
    assert [s for s in secrets if any(s in reply for reply in replies)] == []
    assert [s for s in secrets if s in kernel_output] == []
    assert [s for s in secrets if any(s in line for line in server_log.lines)] == []
    assert [s for s in secrets if s in dump] == []
    assert written == []
