"""Cross-links over REST: a job's datasets, resources and registered versions; who uses a
dataset; a job's notebook snapshot; the lineage graph of a version; and deleted targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labrig.jobs.runtime import JobLayout, snapshot_path
from labrig.links import Links
from labrig.resources.tables import GpuAllocation, ResourceHolder
from labrig.services import Services
from labrig.store.tables import Dataset, Job

SHA = "a" * 64
JOB = "1a2b3c4d5e6f"


@pytest.fixture(scope="module")
def check() -> Any:
    """``check(status, body, path, verb)`` from test_openapi: the answer fits the spec."""
    import importlib.util

    source = Path(__file__).parent / "test_openapi.py"
    spec = importlib.util.spec_from_file_location("labrig_test_openapi_links", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


def seed_job(services: Services, tmp_path: Path, *, status: str = "SUCCEEDED") -> None:
    """A finished 2-rank job that mounted dataset moons at v1 (v2 is pinned now), ran snapshot
    SHA with lr=0.5 and registered demo/1 from rank 0."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("lr = 0.1")
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    target = snapshot_path(services.jobs.data_dir, SHA)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    spec = {
        "notebook_path": "nb/train.ipynb",
        "parameters": {"lr": 0.5},
        "nodes": 1,
        "procs_per_node": 2,
        "cpus": 1.0,
        "memory": 2**30,
        "gpus": 0,
        "datasets": ["moons"],
    }
    fields: dict[str, Any] = {}
    if hasattr(Job, "dataset_versions"):  # job records that keep what they mounted
        fields["dataset_versions"] = {"moons": "v1"}
    with services.db.session() as session:
        session.add(Dataset(name="moons", source_url="file:///data", options={}, version="v2"))
        session.add(
            Job(
                id=JOB,
                name="train-moons",
                notebook_path="nb/train.ipynb",
                status=status,
                spec=spec,
                snapshot_sha256=SHA,
                **fields,
            )
        )
    layout = JobLayout.of(services.jobs.data_dir, JOB)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.job_file.write_text(json.dumps({"env": {"LABRIG_DATASETS": '{"moons": "v1"}'}}))
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w")
    services.models.register(
        "demo",
        weights,
        metrics={"loss": 0.2},
        lineage={
            "job_id": JOB,
            "rank": 0,
            "notebook_path": "nb/train.ipynb",
            "snapshot_sha256": SHA,
            "parameters": {"lr": 0.5},
            "datasets": {"moons": "v1"},
        },
    )


async def test_a_job_links_its_datasets_resources_snapshot_and_versions(
    api: Any, server_services: Services, tmp_path: Path, check: Any
) -> None:
    seed_job(server_services, tmp_path)
    status, links = await api(f"jobs/{JOB}/links")
    assert status == 200, links
    check(status, links, "/jobs/{job_id}/links", "get")
    assert links["datasets"] == [
        {
            "name": "moons",
            "version": "v1",
            "exists": True,
            "current_version": "v2",
            "private": False,
            "hidden": False,
        }
    ]
    assert links["resources"]["world_size"] == 2
    assert links["resources"]["memory"] == 2**30
    assert links["snapshot"] == {"sha256": SHA, "exists": True}
    assert links["parameters"] == {"lr": 0.5}
    assert [(v["ref"], v["rank"]) for v in links["model_versions"]] == [("demo/1", 0)]


async def test_the_lineage_graph_chains_dataset_snapshot_job_and_version(
    api: Any, server_services: Services, tmp_path: Path, check: Any
) -> None:
    seed_job(server_services, tmp_path)
    status, graph = await api("models/demo/versions/1/lineage")
    assert status == 200, graph
    check(status, graph, "/models/{name}/versions/{version}/lineage", "get")
    kinds = {node["kind"]: node for node in graph["nodes"]}
    assert set(kinds) == {"dataset", "snapshot", "job", "model_version"}
    assert kinds["dataset"]["version"] == "v1"
    assert kinds["dataset"]["current"] is False  # v2 is pinned now
    assert kinds["snapshot"]["parameters"] == {"lr": 0.5}
    assert kinds["job"]["ranks"] == 2
    assert kinds["job"]["status"] == "SUCCEEDED"
    chain = [(e["source"].split(":")[0], e["target"].split(":")[0]) for e in graph["edges"]]
    assert chain == [("job", "model_version"), ("snapshot", "job"), ("dataset", "snapshot")]
    # An alias names the same version.
    await api("models/demo/aliases/production", method="PUT", body={"version": 1})
    status, by_alias = await api("models/demo/versions/production/lineage")
    assert (status, by_alias["version"]) == (200, 1)


async def test_deleted_targets_say_so(api: Any, server_services: Services, tmp_path: Path) -> None:
    seed_job(server_services, tmp_path)
    server_services.jobs.delete(JOB)  # its snapshot goes with it (no other job uses it)
    status, reply = await api(f"jobs/{JOB}/links")
    assert (status, reply["field"]) == (404, "job_id")
    assert reply["message"].startswith("job 1a2b3c4d… was deleted")
    status, reply = await api(f"snapshots/{SHA}")
    assert status == 404
    assert "was deleted" in reply["message"]
    # The version's lineage still reads whole, its deleted parts marked.
    status, graph = await api("models/demo/versions/1/lineage")
    assert status == 200
    exists = {node["kind"]: node["exists"] for node in graph["nodes"]}
    assert exists == {"model_version": True, "job": False, "snapshot": False, "dataset": True}
    job = next(node for node in graph["nodes"] if node["kind"] == "job")
    assert job["label"] == "job 1a2b3c4d…"


async def test_a_snapshot_opens_with_the_jobs_that_ran_it(
    api: Any, server_services: Services, tmp_path: Path, check: Any
) -> None:
    seed_job(server_services, tmp_path)
    status, snapshot = await api(f"snapshots/{SHA}")
    assert status == 200, snapshot
    check(status, snapshot, "/snapshots/{sha256}", "get")
    assert "".join(snapshot["notebook"]["cells"][0]["source"]) == "lr = 0.1"
    assert snapshot["jobs"] == [
        {
            "id": JOB,
            "name": "train-moons",
            "status": "SUCCEEDED",
            "notebook_path": "nb/train.ipynb",
            "parameters": {"lr": 0.5},
        }
    ]
    for bad in ("abc", "A" * 64, "a" * 63 + "g"):
        status, reply = await api(f"snapshots/{bad}")
        assert (status, reply["field"]) == (400, "sha256"), reply


async def test_dataset_users_over_rest(
    api: Any, server_services: Services, tmp_path: Path, check: Any
) -> None:
    seed_job(server_services, tmp_path, status="RUNNING")
    status, users = await api("datasets/moons/users")
    assert status == 200, users
    check(status, users, "/datasets/{name}/users", "get")
    assert [job["id"] for job in users["jobs"]] == [JOB]
    assert users["kernels"] == []  # not mounted on the host
    assert (await api("datasets/nope/users"))[0] == 404


def test_every_running_kernel_sees_a_host_mount(services: Services, tmp_path: Path) -> None:
    seed_job(services, tmp_path, status="SUCCEEDED")
    with services.db.session() as session:
        row = session.get(Dataset, "moons")
        assert row is not None
        row.mount_path = str(tmp_path / "mounts" / "moons")
    sessions = [
        {"path": "a.ipynb", "kernel": {"id": "k1", "name": "python3", "execution_state": "idle"}},
        {"path": "b.ipynb", "kernel": {"id": "k1", "name": "python3"}},  # a shared kernel
        {"path": "c.ipynb", "kernel": None},
    ]
    users = Links(services).dataset_users("moons", sessions)
    assert [k["notebook_path"] for k in users["kernels"]] == ["a.ipynb"]
    assert users["jobs"] == []  # the job ended


def test_gpu_holders_name_the_job_rank_or_kernel_and_free_nothing(
    services: Services, tmp_path: Path
) -> None:
    seed_job(services, tmp_path, status="RUNNING")
    services.resources.gpu_inventory = [
        {"uuid": "GPU-a", "model": "A100"},
        {"uuid": "GPU-b", "model": "A100"},
        {"uuid": "GPU-c", "model": "A100"},
    ]
    dead = {"user": "u", "host": "elsewhere", "owner_pid": 1, "owner_started": 0.0}
    with services.db.session() as session:
        session.add(
            ResourceHolder(holder=f"job:{JOB}/rank1", notebook_path="nb/train.ipynb", **dead)
        )
        session.add(ResourceHolder(holder="kernel:k1", notebook_path="nb/a.ipynb", **dead))
        session.add(GpuAllocation(uuid="GPU-a", holder=f"job:{JOB}/rank1"))
        session.add(GpuAllocation(uuid="GPU-b", holder="kernel:k1"))
    gpus = Links(services).gpu_holders()["gpus"]
    assert [(g["uuid"], g["holder"]) for g in gpus] == [
        ("GPU-a", f"job:{JOB}/rank1"),
        ("GPU-b", "kernel:k1"),
        ("GPU-c", None),
    ]
    assert gpus[0]["job"] == {
        "id": JOB,
        "rank": 1,
        "name": "train-moons",
        "status": "RUNNING",
        "hidden": False,
    }
    assert (gpus[1]["kernel_id"], gpus[1]["notebook_path"]) == ("k1", "nb/a.ipynb")
    # Reading changed nothing (the capacity report would have freed holders it cannot see).
    with services.db.session() as session:
        assert session.get(GpuAllocation, "GPU-a") is not None


async def test_gpu_holders_over_rest(api: Any, check: Any) -> None:
    status, body = await api("resource-gpus")
    assert status == 200, body
    check(status, body, "/resource-gpus", "get")


# -- the versions list: sorted and filtered on the server ---------------------------------------


@pytest.fixture
def versions(server_services: Services, tmp_path: Path) -> None:
    """demo/1..4 with acc, tags and production -> 3."""
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    for acc, team in [(0.5, "vision"), (0.9, "nlp"), (0.7, "vision"), (0.95, "vision")]:
        server_services.models.register("demo", weights, metrics={"acc": acc}, tags={"team": team})
    server_services.models.set_alias("demo", "production", 3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [4, 3, 2, 1]),
        ({"sort": "metric:acc"}, [4, 2, 3, 1]),
        ({"sort": "metric:acc", "order": "asc"}, [1, 3, 2, 4]),
        ({"order_by": "version", "order": "asc"}, [1, 2, 3, 4]),
        ({"sort": "created_at", "order": "asc"}, [1, 2, 3, 4]),
        ({"tag": "team=vision"}, [4, 3, 1]),
        ({"metric": "acc>=0.7"}, [4, 3, 2]),
        ({"metric": "acc<0.9", "tag": "team=vision"}, [3, 1]),
        ({"alias": "production"}, [3]),
        ({"alias": "staging"}, []),
        ({"sort": "metric:acc", "metric": "acc>0.6", "tag": "team=vision"}, [4, 3]),
    ],
)
async def test_versions_sort_and_filter_on_the_server(
    api: Any, versions: None, query: dict[str, str], expected: list[int]
) -> None:
    status, page = await api("models/demo/versions", **query)
    assert status == 200, page
    assert [v["version"] for v in page["items"]] == expected


async def test_sorted_and_filtered_pages_chain(api: Any, versions: None) -> None:
    seen: list[int] = []
    token = None
    while True:
        params = {"sort": "metric:acc", "tag": "team=vision", "limit": "1"}
        if token:
            params["page_token"] = token
        status, page = await api("models/demo/versions", **params)
        assert status == 200, page
        seen += [v["version"] for v in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [4, 3, 1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"sort": "metric:"}, "sort"),
        ({"order_by": "colour"}, "order_by"),
        ({"order": "sideways"}, "order"),
        ({"tag": "no-equals"}, "tag"),
        ({"metric": "acc"}, "metric"),
        ({"metric": "acc>=high"}, "metric"),
        ({"metric": "acc>=nan"}, "metric"),
        ({"alias": "123"}, "alias"),
    ],
)
async def test_bad_sorts_and_filters_are_400_naming_the_field(
    api: Any, versions: None, query: dict[str, str], field: str
) -> None:
    status, reply = await api("models/demo/versions", **query)
    assert (status, reply["field"]) == (400, field), reply
    assert reply["reason"] == "invalid_input"


async def test_a_refused_dataset_leaves_nothing_behind(api: Any) -> None:
    status, reply = await api(
        "datasets", method="POST", body={"name": "d", "source_url": "ftp://x/y"}
    )
    assert (status, reply["field"]) == (400, "source_url"), reply
    assert (await api("datasets"))[1]["items"] == []
