"""The hooks ``services.build_services`` wires to other sections: dataset mounts before a job
starts, model outputs with lineage after it succeeds, and the lineage environment every rank
sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labrig.jobs.service import JobService
from labrig.store.tables import Dataset


class Mounts:
    """Stands in for ``services.datasets`` (another section): one folder per dataset."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], Path]] = []

    def mount_for_job(self, names: list[str], target_root: Path) -> dict[str, str]:
        self.calls.append((names, target_root))
        env = {}
        for name in names:
            (target_root / name).mkdir(parents=True, exist_ok=True)
            (target_root / name / "data.txt").write_text(f"rows of {name}")
            env[f"LABRIG_DATASET_{name.upper().replace('-', '_')}"] = str(target_root / name)
        return env

    def versions_of(self, names: list[str]) -> dict[str, str]:
        return {name: "v-" + name for name in names}

    def mounted_names(self) -> list[str]:
        return ["moons-mini"]


class Outputs:
    """Stands in for ``services.models`` (another section)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, list[dict[str, Any]], dict[str, Any]]] = []

    def register_job_outputs(
        self,
        job_id: str,
        rank: int,
        outputs: list[dict[str, Any]],
        lineage: dict[str, Any],
        *,
        key: str | None = None,
    ) -> None:
        self.calls.append((job_id, rank, outputs, lineage))


def test_datasets_are_mounted_lineage_is_set_and_outputs_are_registered(
    jobs: JobService, root: Path, notebook: Any, wait: Any
) -> None:
    mounts, outputs = Mounts(), Outputs()
    jobs.dataset_mounts, jobs.model_outputs = mounts, outputs
    with jobs.db.session() as session:
        session.add(Dataset(name="moons-mini", source_url="file:///data", options={}))
    notebook(
        "train.ipynb",
        "import os, json\n"
        "print(open(os.environ['LABRIG_DATASET_MOONS_MINI'] + '/data.txt').read())\n"
        "print('lineage', os.environ['LABRIG_JOB_ID'], os.environ['LABRIG_RANK'],\n"
        "      os.environ['LABRIG_DATASETS'], os.environ['LABRIG_PARAMETERS'])\n"
        "open('weights.bin', 'w').write('w')",
        params="lr = 0.1",
    )
    job = jobs.submit(
        {
            "notebook_path": "train.ipynb",
            "datasets": ["moons-mini"],
            "parameters": {"lr": 0.5},
            "outputs": [{"name": "moons-mlp", "path": "weights.bin"}],
        }
    )
    done = wait(jobs, job["id"], ("SUCCEEDED", "FAILED"))
    log = jobs.logs(job["id"], 0)["text"]
    assert done["status"] == "SUCCEEDED", log
    assert "rows of moons-mini" in log
    datasets = json.dumps({"moons-mini": "v-moons-mini"})
    assert f"lineage {job['id']} 0 {datasets} {json.dumps({'lr': 0.5})}" in log
    assert mounts.calls == [(["moons-mini"], jobs.layout(job["id"]).root / "datasets")]
    jobs.tick()
    assert len(outputs.calls) == 1
    job_id, rank, registered, lineage = outputs.calls[0]
    assert (job_id, rank) == (job["id"], 0)
    # Locally the file beside the notebook; on a cluster, what rank 0 staged on shared storage.
    assert [(r["name"], Path(r["path"]).name) for r in registered] == [("moons-mlp", "weights.bin")]
    assert lineage["snapshot_sha256"] == job["snapshot_sha256"]
    assert lineage["parameters"] == {"lr": 0.5}
    assert lineage["datasets"] == {"moons-mini": "v-moons-mini"}
    jobs.tick()
    assert len(outputs.calls) == 1  # registered once
