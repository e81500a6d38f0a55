"""A local job keeps the server's secrets off disk: its job.json, its folder and the jobs table
hold neither the model store's key and secret nor the database's password, while its
supervisor (acting for the server with nobody ticking) still registers the job's declared
output into an S3 store with those credentials, and its ranks inherit none of them from labrig.
On Kubernetes the ranks get the storage credentials from a Secret reference, never as literal
values of the ConfigMap or the training job."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import S3Server, s3_server
from k8s.rig import STORAGE_SECRET, KubeRig
from postgres_server import PASSWORD
from sqlalchemy import MetaData, select
from traitlets.config import Config

from labrig.app import LabrigApp
from labrig.jobs.capacity import HostCapacity
from labrig.jobs.runtime import JobLayout
from labrig.jobs.service import JobService
from labrig.services import Services, build_services
from labrig.store import Database

__all__ = ["s3_server"]

CELL = """import hashlib, os
open("model.bin", "wb").write(b"weights")
held = sorted(
    k for k, v in os.environ.items()
    if hashlib.sha256(v.encode()).hexdigest() == {digest!r} or k == "LABRIG_SUPERVISOR_SECRETS"
)
print("inherited:", held)
"""


def database_dump(db: Database) -> str:
    """Every row of every table, as text."""
    tables = MetaData()
    tables.reflect(db.engine)
    with db.engine.connect() as connection:
        return "\n".join(
            repr(row) for table in tables.sorted_tables for row in connection.execute(select(table))
        )


def files_holding(root: Path, *needles: str) -> list[str]:
    return sorted(
        f"{path}: {needle}"
        for path in root.rglob("*")
        if path.is_file()
        for needle in needles
        if needle.encode() in path.read_bytes()
    )


@pytest.fixture
def store(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An S3 bucket whose only credentials are in LabrigApp.model_store_options: nothing in
    the environment or in files botocore would look at."""
    tag = uuid.uuid4().hex[:12]
    bucket = f"job-secrets-{tag}"
    s3_server.client.create_bucket(Bucket=bucket)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return {
        "bucket": bucket,
        "key": f"JOBKEY{tag.upper()}",
        "secret": f"planted-store-secret-{uuid.uuid4().hex}",
        "endpoint": s3_server.endpoint_url,
    }


def test_a_local_job_writes_no_secret_and_its_supervisor_registers_with_them(
    store: dict[str, Any],
    s3_server: S3Server,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    labrig_env: Path,
    root: Path,
    notebook: Any,
) -> None:
    monkeypatch.setenv("LABRIG_DATABASE_URL", database_url)
    config = Config()
    config.LabrigApp.data_dir = str(labrig_env)
    config.LabrigApp.database_url = database_url  # in the settings too: a URL with a password
    config.LabrigApp.model_store_url = f"s3://{store['bucket']}/labrig"
    config.LabrigApp.model_store_options = {
        "key": store["key"],
        "secret": store["secret"],
        "client_kwargs": {"endpoint_url": store["endpoint"], "region_name": "us-east-1"},
    }
    digest = hashlib.sha256(store["secret"].encode()).hexdigest()
    notebook("train.ipynb", CELL.format(digest=digest))
    # Built as the CLI builds them; nobody ticks, so the supervisor registers the output.
    services: Services = build_services(LabrigApp(config=config), root_dir=str(root))
    try:
        job = services.jobs.submit(
            {"notebook_path": "train.ipynb", "outputs": [{"name": "weights", "path": "model.bin"}]}
        )
        layout = JobLayout.of(labrig_env, job["id"])
        written = layout.job_file.read_text()
        deadline = time.monotonic() + 120
        while not services.jobs._row(job["id"]).finalized:
            assert time.monotonic() < deadline, services.jobs.get(job["id"])
            time.sleep(0.2)
        ended = services.jobs.get(job["id"])
        assert ended["status"] == "SUCCEEDED", ended
        version = services.models.get_version("weights", 1)
        assert version["lineage"]["job_id"] == job["id"], version
        keys = s3_server.client.list_objects_v2(Bucket=store["bucket"]).get("Contents", [])
        assert keys, "nothing reached the store"
        output = (root / ended["output_path"]).read_text()
        dump = database_dump(services.db)
    finally:
        services.close()

    described = json.loads(written)
    assert "database_url" not in described
    assert "LABRIG_DATABASE_URL" not in described["env"]
    assert described["config"]["LabrigApp"]["model_store_options"]["client_kwargs"]
    secrets = (store["secret"], store["key"], PASSWORD)
    assert [s for s in secrets if s in written] == []
    assert [s for s in secrets if s in dump] == []
    assert files_holding(labrig_env, *secrets) == []
    assert files_holding(root, *secrets) == []
    assert "inherited: []" in output


def test_kubernetes_ranks_get_storage_credentials_from_a_secret_reference(
    kube: KubeRig, root: Path, notebook: Any, labrig_env: Path, wait: Any
) -> None:
    notebook("k.ipynb", "print('ran on the cluster')")
    db = Database(f"sqlite:///{labrig_env / 'labrig.db'}")
    db.upgrade()
    service = JobService(
        db, labrig_env, root, capacity=HostCapacity(labrig_env / "cap"), backend=kube.backend()
    )
    try:
        job = service.submit({"notebook_path": "k.ipynb"})
        name = f"labrig-{job['id']}"
        config_map = kube.emu.store.get("configmaps", "ml", name)
        training = kube.emu.store.get("pytorchjobs.kubeflow.org", "ml", name)
        # The ranks uploaded their reports: the Secret's credentials reached their pods.
        done = wait(service, job["id"], ("SUCCEEDED", "FAILED"), timeout=120)
        assert done["status"] == "SUCCEEDED", done
    finally:
        db.dispose()
    master = training["spec"]["pytorchReplicaSpecs"]["Master"]
    container = master["template"]["spec"]["containers"][0]
    env = {entry["name"]: entry for entry in container["env"]}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == STORAGE_SECRET
    shown = json.dumps([config_map, training])
    assert "testing" not in shown.replace(kube.storage.endpoint_url, "")
