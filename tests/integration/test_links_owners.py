"""Cross-links with alice, bob and an administrator: a model version is everyone's, the job
behind it and a private dataset it read are not. To bob, alice's job is "a job of another user"
(never "deleted"), shown by id only, in the version's lineage graph and as a GPU's holder; her
private dataset is "a private dataset", its name and version nowhere in the answer. On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from identities import ADMIN, Caller, as_user_fixture, server_config_fixture
from test_links import check

from labrig import identity
from labrig.jobs.runtime import snapshot_path
from labrig.resources.tables import GpuAllocation, ResourceHolder
from labrig.services import Services
from labrig.store.tables import Dataset, Job

__all__ = ["as_user_fixture", "check", "server_config_fixture"]

SHA = "b" * 64
JOB = "a1ce0000b0b0"
PRIVATE = "faces-of-alice"
PRIVATE_VERSION = "c0ffee12"
LINEAGE = "models/demo/versions/1/lineage"


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    return on_each_database


@pytest.fixture
def alices_version(server_services: Services, tmp_path: Path) -> None:
    """Alice's finished job read the shared dataset moons and her private dataset, ran snapshot
    SHA and registered demo/1 (a version everyone may read)."""
    nb = nbformat.v4.new_notebook()
    target = snapshot_path(server_services.jobs.data_dir, SHA)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    datasets = {"moons": "v1", PRIVATE: PRIVATE_VERSION}
    with server_services.db.session() as session:
        session.add(Dataset(name="moons", source_url="file:///data", options={}, version="v1"))
        session.add(
            Dataset(
                name=PRIVATE,
                source_url="file:///data/faces",
                options={},
                version=PRIVATE_VERSION,
                owner="alice",
                private=True,
            )
        )
        session.add(
            Job(
                id=JOB,
                name="alices-training",
                notebook_path="nb/alice-secret-plan.ipynb",
                status="RUNNING",
                spec={"notebook_path": "nb/alice-secret-plan.ipynb", "datasets": list(datasets)},
                snapshot_sha256=SHA,
                dataset_versions=datasets,
                owner="alice",
            )
        )
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w")
    with identity.acting_as(identity.Principal("alice")):
        server_services.models.register(
            "demo",
            weights,
            lineage={"job_id": JOB, "rank": 0, "snapshot_sha256": SHA, "datasets": datasets},
        )


def nodes_by_kind(graph: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for node in graph["nodes"]:
        kinds.setdefault(node["kind"], []).append(node)
    return kinds


@pytest.mark.usefixtures("alices_version")
async def test_to_bob_alices_job_is_another_users_and_her_private_dataset_unnamed(
    as_user: Any, check: Any
) -> None:
    status, graph = await as_user("bob").api(LINEAGE)
    assert status == 200, graph
    check(status, graph, "/models/{name}/versions/{version}/lineage", "get")
    kinds = nodes_by_kind(graph)
    [job] = kinds["job"]
    assert job == {
        "id": f"job:{JOB}",
        "kind": "job",
        "job_id": JOB,
        "exists": True,  # not "deleted": it runs, as alice's
        "hidden": True,
        "label": "a job of another user",
        "rank": 0,
    }
    # The version's lineage names no snapshot of a job bob cannot see, so the graph shows none.
    assert "snapshot" not in kinds
    assert (await as_user("bob").api(f"snapshots/{SHA}"))[0] == 404
    shared, private = sorted(kinds["dataset"], key=lambda node: node["hidden"])
    assert (shared["name"], shared["hidden"], shared["private"]) == ("moons", False, False)
    assert private["label"] == "a private dataset"
    assert (private["name"], private["version"], private["current_version"]) == (None,) * 3
    text = json.dumps(graph)
    for secret in (PRIVATE, PRIVATE_VERSION, "alices-training", "alice-secret-plan", "RUNNING"):
        assert secret not in text


@pytest.mark.usefixtures("alices_version")
@pytest.mark.parametrize("user", ["alice", ADMIN])
async def test_the_owner_and_an_admin_see_the_job_and_the_private_dataset(
    as_user: Any, user: str
) -> None:
    status, graph = await as_user(user).api(LINEAGE)
    assert status == 200, graph
    kinds = nodes_by_kind(graph)
    [job] = kinds["job"]
    assert (job["label"], job["status"], job["hidden"]) == ("alices-training", "RUNNING", False)
    assert kinds["snapshot"][0]["hidden"] is False
    named = {node["name"]: node for node in kinds["dataset"]}
    assert named[PRIVATE]["version"] == PRIVATE_VERSION
    assert (named[PRIVATE]["private"], named[PRIVATE]["hidden"]) == (True, False)


@pytest.mark.usefixtures("alices_version")
async def test_a_deleted_job_still_reads_deleted_to_another_user(
    as_user: Any, server_services: Services
) -> None:
    with identity.acting_as(identity.Principal("alice")):
        server_services.jobs.delete(JOB)
    status, graph = await as_user("bob").api(LINEAGE)
    assert status == 200, graph
    [job] = nodes_by_kind(graph)["job"]
    assert (job["exists"], job["hidden"], job["label"]) == (False, False, "job a1ce0000…")


@pytest.fixture
def alices_rank_holds_a_gpu(alices_version: None, server_services: Services) -> None:
    server_services.resources.gpu_inventory = [{"uuid": "GPU-a", "model": "A100"}]
    dead = {"user": "alice", "host": "elsewhere", "owner_pid": 1, "owner_started": 0.0}
    with server_services.db.session() as session:
        session.add(
            ResourceHolder(
                holder=f"job:{JOB}/rank0", notebook_path="nb/alice-secret-plan.ipynb", **dead
            )
        )
        session.add(GpuAllocation(uuid="GPU-a", holder=f"job:{JOB}/rank0"))


async def gpu(caller: Caller, check: Any) -> dict[str, Any]:
    status, body = await caller.api("resource-gpus")
    assert status == 200, body
    check(status, body, "/resource-gpus", "get")
    [held] = body["gpus"]
    return dict(held)


@pytest.mark.usefixtures("alices_rank_holds_a_gpu")
async def test_a_gpu_held_by_alices_rank_is_a_job_of_another_user_to_bob(
    as_user: Any, check: Any
) -> None:
    held = await gpu(as_user("bob"), check)
    assert held["job"] == {"id": JOB, "rank": 0, "name": None, "status": None, "hidden": True}
    assert held["notebook_path"] is None
    mine = await gpu(as_user("alice"), check)
    assert mine["job"]["name"] == "alices-training"
    assert (mine["job"]["hidden"], mine["notebook_path"]) == (False, "nb/alice-secret-plan.ipynb")


@pytest.mark.usefixtures("alices_version")
async def test_the_version_itself_leaves_her_private_dataset_out_for_bob(as_user: Any) -> None:
    status, shown = await as_user("bob").api("models/demo/versions/1")
    assert status == 200, shown
    assert shown["lineage"]["datasets"] == {"moons": "v1"}
    assert shown["lineage"]["private_datasets"] == 1
    status, page = await as_user("bob").api("models/demo/versions")
    assert status == 200, page
    assert PRIVATE not in json.dumps(page)
    assert PRIVATE not in json.dumps(shown)
    for user in ("alice", ADMIN):
        status, shown = await as_user(user).api("models/demo/versions/1")
        assert shown["lineage"]["datasets"][PRIVATE] == PRIVATE_VERSION
        assert "private_datasets" not in shown["lineage"]


@pytest.mark.usefixtures("alices_version")
async def test_bobs_own_job_names_no_private_dataset_of_alice(
    as_user: Any, server_services: Services, check: Any
) -> None:
    """A job of bob's that recorded alice's private dataset (a record from before it was hers
    alone, say) links it as "a private dataset", never by name."""
    with server_services.db.session() as session:
        session.add(
            Job(
                id="b0b000000001",
                name="bobs-run",
                notebook_path="nb/bob.ipynb",
                status="SUCCEEDED",
                spec={"notebook_path": "nb/bob.ipynb", "datasets": ["moons", PRIVATE]},
                dataset_versions={"moons": "v1", PRIVATE: PRIVATE_VERSION},
                owner="bob",
            )
        )
    status, links = await as_user("bob").api("jobs/b0b000000001/links")
    assert status == 200, links
    check(status, links, "/jobs/{job_id}/links", "get")
    assert [(d["name"], d["hidden"]) for d in links["datasets"]] == [("moons", False), (None, True)]
    assert PRIVATE not in json.dumps(links)
    assert PRIVATE_VERSION not in json.dumps(links)


@pytest.mark.usefixtures("alices_rank_holds_a_gpu")
async def test_the_capacity_report_keeps_the_notebook_of_alices_job_from_bob(
    as_user: Any, check: Any
) -> None:
    seen = {}
    for user in ("alice", "bob"):
        status, body = await as_user(user).api("resource-capacity")
        assert status == 200, body
        check(status, body, "/resource-capacity", "get")
        [held] = body["gpu_devices"]
        seen[user] = (held["holder"], held["notebook_path"])
    assert seen["alice"] == (f"job:{JOB}/rank0", "nb/alice-secret-plan.ipynb")
    assert seen["bob"] == (f"job:{JOB}/rank0", None)
