"""A job on the Kubernetes backend reads its dataset: the version the catalog pinned, warmed by
Fluid, mounted read-only in the rank pod at the path ``LABRIG_DATASET_<NAME>`` names, exactly
as locally; the job's lineage records the version."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from dataset_servers import make_files, write_tree
from k8s.rig import KubeRig

from labrig.errors import InvalidInput
from labrig.jobs.capacity import HostCapacity
from labrig.jobs.service import JobService
from labrig.k8s.client import PYTORCHJOB
from labrig.k8s.jobs import KubernetesJobBackend
from labrig.store import PageRequest

FILES = make_files(6, 30_000, seed=3, prefix="shards/")
READ = """
import hashlib, os, pathlib
root = pathlib.Path(os.environ["LABRIG_DATASET_DIGITS"])
names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
digest = hashlib.sha256(b"".join((root / n).read_bytes() for n in names)).hexdigest()
print("read", len(names), "files", digest)
"""


def test_a_kubernetes_job_reads_its_pinned_dataset_at_the_local_mount_path(
    fluid_catalog: Any, kube: KubeRig, labrig_env: Path, tmp_path: Path
) -> None:
    catalog = fluid_catalog()
    write_tree(tmp_path / "src", FILES)
    catalog.create({"name": "digits", "source_url": f"file://{tmp_path / 'src'}"})
    assert catalog.warm("digits")["state"] == "succeeded"
    version = catalog.manifest("digits")[0]
    # The app's Fluid cache tells the job backend which claim serves the version; without a
    # data_pvc (the host cache's volume) it is the only way the pods get the dataset.
    backend = KubernetesJobBackend(parent=catalog.cache.parent, **kube.settings(data_pvc=""))
    jobs = JobService(
        catalog.db,
        labrig_env,
        tmp_path / "root",
        capacity=HostCapacity(labrig_env / "cap", cpus=4),
        backend=backend,
    )
    jobs.dataset_mounts = catalog
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(READ)]
    (tmp_path / "root").mkdir()
    nbformat.write(nb, tmp_path / "root" / "read.ipynb")
    try:
        job = jobs.submit({"notebook_path": "read.ipynb", "datasets": ["digits"]})
        done = wait_final(jobs, job["id"])
        log = jobs.logs(job["id"], 0)["text"]
        assert done["status"] == "SUCCEEDED", (done, log)
        expected = hashlib.sha256(b"".join(FILES[k] for k in sorted(FILES))).hexdigest()
        assert f"read {len(FILES)} files {expected}" in log
        assert done["dataset_versions"] == {"digits": version}

        (created,) = kube.emu.store.select(PYTORCHJOB.title)
        pod = created["spec"]["pytorchReplicaSpecs"]["Master"]["template"]
        claim = catalog.cache.claim_for("digits", version)
        (volume,) = [v for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}
        (mount,) = [
            m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == volume["name"]
        ]
        assert mount["readOnly"] is True
        assert mount["mountPath"] == str(labrig_env / "jobs" / job["id"] / "datasets" / "digits")
        assert pod["metadata"]["annotations"]["labrig.io/dataset-versions"] == f"digits={version}"
    finally:
        backend.stop()
        for row in jobs.list(PageRequest(limit=50)).items:
            if row["status"] in ("QUEUED", "STARTING", "RUNNING"):
                jobs.cancel(row["id"])


def test_a_data_pvc_beside_the_fluid_cache_is_refused_with_what_to_change(
    fluid_catalog: Any, kube: KubeRig, labrig_env: Path, tmp_path: Path
) -> None:
    catalog = fluid_catalog()
    backend = KubernetesJobBackend(parent=catalog.cache.parent, **kube.settings())
    with pytest.raises(InvalidInput, match="leave data_pvc empty") as caught:
        backend.check({"notebook_path": "read.ipynb", "datasets": ["digits"]})
    assert caught.value.field == "datasets"
    backend.check({"notebook_path": "read.ipynb"})  # a job without datasets needs nothing


def wait_final(jobs: JobService, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        jobs.tick()
        job: dict[str, Any] = jobs.get(job_id)
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
