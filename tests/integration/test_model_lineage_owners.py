"""A model version's lineage keeps its job's secrets: alice's job reads her private dataset and
registers an output; everyone reads the version, but bob's copy of its lineage (the version, the
version list and the lineage graph) names neither her job, its notebook, snapshot and parameters,
nor her private dataset, while alice and the administrator see it whole (on SQLite and
PostgreSQL). Found by the fuzz run with two identities."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from identities import ADMIN, API, Caller, as_user_fixture, server_config

from labrig.models.job_outputs import idempotency_key_for

__all__ = ["as_user_fixture"]

Users = Callable[[str], Caller]
NOTEBOOK = "alice-only/train.ipynb"
DATASET = "alice-secret-ds"
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    return on_each_database


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path) -> dict[str, Any]:
    config = server_config(labrig_env, {"local_dataset_roots": [str(tmp_path / "sources")]})
    config["LocalDatasetCache"] = {"mount_root": str(tmp_path / "mounts")}
    return config


async def until(caller: Caller, path: str, done: Callable[[Any], bool]) -> Any:
    for _ in range(900):
        status, body = await caller.api(path)
        assert status == 200, body
        if done(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} did not get there: {body}")


async def alices_registered_version(alice: Caller, root: Path, sources: Path) -> dict[str, Any]:
    """Alice's private dataset, warmed, read by her job, which registers ``m`` version 1."""
    (sources / "a.txt").parent.mkdir(parents=True)
    (sources / "a.txt").write_text("a")
    body = {"name": DATASET, "source_url": sources.as_uri(), "private": True}
    assert (await alice.api("datasets", "POST", body))[0] == 201
    assert (await alice.api(f"datasets/{DATASET}/warm", "POST", {}))[0] == 202
    await until(alice, f"datasets/{DATASET}/warm", lambda warm: warm["state"] == "succeeded")
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    notebook.cells = [
        nbformat.v4.new_code_cell("lr = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("open('weights.bin', 'wb').write(b'w' * lr)"),
    ]
    (root / NOTEBOOK).parent.mkdir()
    nbformat.write(notebook, root / NOTEBOOK)
    job_body = {
        "notebook_path": NOTEBOOK,
        "name": "alices-secret-run",
        "parameters": {"lr": 3},
        "datasets": [DATASET],
        "outputs": [{"name": "m", "path": "weights.bin"}],
    }
    status, job = await alice.api("jobs", "POST", job_body)
    assert status == 201, job
    ended = await until(alice, f"jobs/{job['id']}", lambda body: body["status"] in FINAL)
    assert ended["status"] == "SUCCEEDED", ended
    # Registered when the job is finalized, which may follow its status by a tick.
    await until(alice, "models", lambda page: [item["name"] for item in page["items"]] == ["m"])
    status, version = await alice.api("models/m/versions/1")
    assert status == 200, version
    return dict(version)


async def test_bob_reads_alices_version_without_her_job_or_private_dataset(
    as_user: Users, jp_root_dir: Path, tmp_path: Path
) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    mine = await alices_registered_version(alice, jp_root_dir, tmp_path / "sources" / "secret")
    lineage = mine["lineage"]
    assert (lineage["notebook_path"], lineage["parameters"]) == (NOTEBOOK, {"lr": 3})
    assert list(lineage["datasets"]) == [DATASET]
    job_id = lineage["job_id"]
    secrets = [DATASET, NOTEBOOK, "alices-secret-run", lineage["snapshot_sha256"]]

    answers = {}
    for path in ("models/m/versions/1", "models/m/versions", "models/m/versions/1/lineage"):
        response = await bob.fetch(*API, path)
        assert response.code == 200, response.body
        answers[path] = response.body.decode()
        assert [secret for secret in secrets if secret in answers[path]] == [], answers[path]
    shown = json.loads(answers["models/m/versions/1"])["lineage"]
    # The job's id stays (it answers bob 404, as an unknown id does); what describes it goes.
    assert shown["job_id"] == job_id
    assert not {"notebook_path", "snapshot_sha256", "parameters"} & set(shown)
    assert (shown["datasets"], shown["private_datasets"]) == ({}, 1)
    assert json.loads(answers["models/m/versions"])["items"][0]["lineage"] == shown
    graph = json.loads(answers["models/m/versions/1/lineage"])
    kinds = sorted(node["kind"] for node in graph["nodes"])
    assert kinds == ["dataset", "job", "model_version"]
    assert all(node["hidden"] for node in graph["nodes"] if node["kind"] != "model_version")

    # Registering again under the key of alice's output (the job's id is in the version's note,
    # the output's path can be guessed) answers her version, as bob may see it.
    output = (jp_root_dir / NOTEBOOK).parent / "weights.bin"
    key = idempotency_key_for(job_id, 0, str(output.resolve()))
    (jp_root_dir / "bobs.bin").write_bytes(b"b")
    replay = {"path": "bobs.bin", "idempotency_key": key}
    response = await bob.fetch(*API, "models/bobs/versions", method="POST", body=json.dumps(replay))
    assert response.code == 201, response.body
    answer = response.body.decode()
    assert (json.loads(answer)["ref"], json.loads(answer)["lineage"]) == ("m/1", shown)
    assert [secret for secret in secrets if secret in answer] == [], answer

    # The owner and the administrator see it whole, the job and the dataset in the graph.
    for caller in (alice, admin):
        status, whole = await caller.api("models/m/versions/1")
        assert (status, whole["lineage"]) == (200, lineage)
        status, graph = await caller.api("models/m/versions/1/lineage")
        kinds = {node["kind"] for node in graph["nodes"]}
        assert kinds == {"model_version", "job", "snapshot", "dataset"}, graph
