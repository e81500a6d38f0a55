"""Every path a user gives labrig stays under its allowed root, at every way in.

Each entry point is tried with the three ways out: a ``..`` escape, an absolute path, and a
symlink inside the root that leads outside. Each must answer 400 naming the field, and nothing
may be queued, registered, created, downloaded or deleted outside the root. Paths labrig reads
back from its database are checked again before anything is deleted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labrig.jobs.runtime import snapshot_path
from labrig.services import Services
from labrig.store.tables import Dataset, Job

Api = Callable[..., Awaitable[tuple[int, Any]]]
KINDS = ["dotdot", "absolute", "symlink"]
SECRET = b"outside the root"


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(labrig_env)},
        "DatasetCache": {"mount_root": str(tmp_path / "mounts")},
    }


def notebook(path: Path, code: str = "print(1)") -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(code)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def tree(jp_root_dir: Path, tmp_path: Path) -> dict[str, Path]:
    """The Jupyter root with a notebook and a model file, a folder beside it with secrets, and
    symlinks inside the root (and the mount root) that lead to them."""
    root, outside = Path(jp_root_dir), tmp_path / "outside"
    notebook(root / "nb" / "train.ipynb")
    (root / "nb" / "model.bin").write_bytes(b"weights")
    notebook(outside / "secret.ipynb")
    (outside / "secret.bin").write_bytes(SECRET)
    (outside / "data").mkdir()
    (outside / "data" / "rows.csv").write_text("x\n1\n")
    (root / "data").mkdir()
    (root / "data" / "rows.csv").write_text("x\n2\n")
    os.symlink(outside / "secret.ipynb", root / "nb" / "escape.ipynb")
    os.symlink(outside / "secret.bin", root / "nb" / "escape.bin")
    os.symlink(outside / "data", root / "escape-data")
    (tmp_path / "mounts").mkdir()
    os.symlink(outside, tmp_path / "mounts" / "escape")
    return {"root": root, "outside": outside, "mounts": tmp_path / "mounts"}


def refused(status: int, reply: Any, field: str) -> None:
    assert (status, reply["field"]) == (400, field), reply
    assert "Traceback" not in reply["message"]


# --- jobs: notebooks, declared outputs, re-runs and schedules ---------------------------------

NOTEBOOKS = {
    "dotdot": lambda t: "../outside/secret.ipynb",
    "absolute": lambda t: str(t["outside"] / "secret.ipynb"),
    "symlink": lambda t: "nb/escape.ipynb",
}
#: Relative to the notebook's folder (nb/), as outputs are.
OUTPUTS = {
    "dotdot": lambda t: "../../outside/secret.bin",
    "absolute": lambda t: str(t["outside"] / "secret.bin"),
    "symlink": lambda t: "escape.bin",
}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_job_notebook_outside_the_root_is_refused(
    api: Api, tree: dict[str, Path], server_services: Services, kind: str
) -> None:
    status, reply = await api("jobs", "POST", {"notebook_path": NOTEBOOKS[kind](tree)})
    refused(status, reply, "notebook_path")
    refused(*await api(f"job-form/{NOTEBOOKS[kind](tree)}"), "notebook_path")  # the dialog
    assert (await api("jobs"))[1]["items"] == []
    assert not list((server_services.jobs.data_dir / "snapshots").glob("*.ipynb"))


@pytest.mark.parametrize("kind", KINDS)
async def test_declared_outputs_outside_the_root_are_refused_at_submit_rerun_and_schedule(
    api: Api, tree: dict[str, Path], server_services: Services, kind: str
) -> None:
    outputs = [{"name": "stolen", "path": OUTPUTS[kind](tree)}]
    job = {"notebook_path": "nb/train.ipynb", "outputs": outputs}
    refused(*await api("jobs", "POST", job), "outputs[0].path")
    refused(
        *await api("job-schedules", "POST", {"cron": "0 3 * * *", "job": job}), "outputs[0].path"
    )
    assert (await api("jobs"))[1]["items"] == []
    assert (await api("job-schedules"))[1]["items"] == []

    old = ended_job(server_services, tree["root"])
    refused(*await api(f"jobs/{old}/rerun", "POST", {"outputs": outputs}), "outputs[0].path")
    assert [j["id"] for j in (await api("jobs"))[1]["items"]] == [old]


def ended_job(services: Services, root: Path, output_path: str | None = None) -> str:
    """A failed job of nb/train.ipynb, as a re-run finds one (not run here)."""
    jobs = services.jobs
    sha = jobs.snapshot(jobs.resolve_notebook("nb/train.ipynb"))
    with services.db.session() as session:
        session.add(
            Job(
                id="old-job",
                name="train",
                notebook_path="nb/train.ipynb",
                status="FAILED",
                created_at=datetime.now(UTC),
                spec={"notebook_path": "nb/train.ipynb", "nodes": 1, "procs_per_node": 1},
                snapshot_sha256=sha,
                output_path=output_path or "nb/labrig-jobs/old-job/train.ipynb",
                backend="elsewhere",
                finalized=True,
            )
        )
    return "old-job"


async def test_a_symlink_the_job_leaves_as_its_output_is_not_registered(
    api: Api, tree: dict[str, Path], server_services: Services
) -> None:
    """Checked again when the job ends: the notebook itself may plant the symlink."""
    secret = tree["outside"] / "secret.bin"
    notebook(
        tree["root"] / "nb" / "plant.ipynb", f"import os\nos.symlink({str(secret)!r}, 'made.bin')"
    )
    body = {"notebook_path": "nb/plant.ipynb", "outputs": [{"name": "planted", "path": "made.bin"}]}
    status, job = await api("jobs", "POST", body)
    assert status == 201, job
    for _ in range(600):
        status, job = await api(f"jobs/{job['id']}")
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        await asyncio.sleep(0.2)
    assert job["status"] == "SUCCEEDED", job
    for _ in range(100):  # finalizing (registration) follows the end
        status, job = await api(f"jobs/{job['id']}")
        if job["reason"]:
            break
        await asyncio.sleep(0.1)
    assert "'planted' was not registered" in job["reason"]
    assert "symlink" in job["reason"]
    assert (await api("models/planted"))[0] == 404
    # its ranks confine their own labrig.models.register calls to the same root
    ranks = server_services.jobs.layout(job["id"]).read_job()["env"]
    assert ranks["LABRIG_ROOT_DIR"] == str(server_services.jobs.root_dir)


# --- stored paths, checked again before reading or deleting -----------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_an_edited_output_path_deletes_and_reads_nothing_outside(
    api: Api, tree: dict[str, Path], server_services: Services, kind: str
) -> None:
    victim = tree["outside"] / "labrig-jobs" / "old-job"
    victim.mkdir(parents=True)
    (victim / "train.ipynb").write_text("{}")
    os.symlink(tree["outside"] / "labrig-jobs", tree["root"] / "labrig-jobs")
    stored = {
        "dotdot": "../outside/labrig-jobs/old-job/train.ipynb",
        "absolute": str(victim / "train.ipynb"),
        "symlink": "labrig-jobs/old-job/train.ipynb",
    }[kind]
    job = ended_job(server_services, tree["root"], output_path=stored)
    status, reply = await api(f"jobs/{job}/output")
    refused(status, reply, "output_path")
    status, reply = await api(f"jobs/{job}", "DELETE")
    assert (status, reply["field"]) == (409, "output_path"), reply
    assert "nothing was deleted" in reply["message"]
    assert (victim / "train.ipynb").is_file()
    assert (await api(f"jobs/{job}"))[0] == 200  # the job is still there to fix


@pytest.mark.parametrize("value", ["..", "..%2F..%2Foutside%2Fsecret", "~root", "0" * 63 + "%00"])
async def test_a_snapshot_is_read_by_its_sha256_only(
    api: Api, tree: dict[str, Path], value: str
) -> None:
    refused(*await api(f"snapshots/{value}"), "sha256")


def test_a_snapshot_name_from_the_database_cannot_leave_the_snapshots_folder(
    tmp_path: Path,
) -> None:
    from labrig.errors import InvalidInput

    assert snapshot_path(tmp_path, "a" * 64) == tmp_path / "snapshots" / f"{'a' * 64}.ipynb"
    for stored in ("../../outside/secret", "", "A" * 64, "a" * 64 + "/.."):
        with pytest.raises(InvalidInput) as info:
            snapshot_path(tmp_path, stored)
        assert info.value.field == "snapshot_sha256"


# --- models: registration and file downloads ---------------------------------------------------

SOURCES = {
    "dotdot": lambda t: "../outside/secret.bin",
    "absolute": lambda t: str(t["outside"] / "secret.bin"),
    "symlink": lambda t: "nb/escape.bin",
}


@pytest.mark.parametrize("kind", KINDS)
async def test_rest_registration_outside_the_root_is_refused(
    api: Api, tree: dict[str, Path], kind: str
) -> None:
    status, reply = await api("models/stolen/versions", "POST", {"path": SOURCES[kind](tree)})
    refused(status, reply, "path")
    assert (await api("models/stolen"))[0] == 404


@pytest.mark.parametrize(
    "file", ["../../../outside/secret.bin", "/etc/passwd", "a/../../model.bin", "model.bin\x00"]
)
async def test_a_download_names_a_file_of_the_version_only(
    api: Api, jp_fetch: Any, tree: dict[str, Path], file: str
) -> None:
    status, made = await api("models/m/versions", "POST", {"path": "nb/model.bin"})
    assert status == 201, made
    status, reply = await api(f"models/m/versions/1/files/{file}")
    refused(status, reply, "path")
    response = await jp_fetch("labrig", "api", "v1", "models/m/versions/1/files/model.bin")
    assert response.body == b"weights"


# --- datasets: file:// sources, mounts, and stored mount paths --------------------------------

DATA = {
    "dotdot": lambda t: (t["root"] / "..").as_uri() + "/outside/data/",
    "absolute": lambda t: (t["outside"] / "data").as_uri() + "/",
    "symlink": lambda t: (t["root"] / "escape-data").as_uri() + "/",
}
MOUNTS = {
    "dotdot": lambda t: f"{t['mounts']}/../outside/ds",
    "absolute": lambda t: str(t["outside"] / "ds"),
    "symlink": lambda t: str(t["mounts"] / "escape" / "ds"),
}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_file_dataset_outside_the_local_roots_is_refused(
    api: Api, tree: dict[str, Path], kind: str
) -> None:
    status, reply = await api(
        "datasets", "POST", {"name": "stolen", "source_url": DATA[kind](tree)}
    )
    refused(status, reply, "source_url")
    assert str(tree["root"]) in reply["message"]  # says what is allowed
    assert (await api("datasets/stolen"))[0] == 404


async def test_a_file_dataset_under_the_root_is_stored_by_its_real_path(
    api: Api, tree: dict[str, Path]
) -> None:
    os.symlink(tree["root"] / "data", tree["root"] / "data-link")
    url = (tree["root"] / "data-link").as_uri() + "/"
    status, made = await api("datasets", "POST", {"name": "inside", "source_url": url})
    assert status == 201, made
    assert made["source_url"] == (tree["root"] / "data").as_uri() + "/"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_mount_outside_the_mount_roots_is_refused(
    api: Api, tree: dict[str, Path], kind: str
) -> None:
    url = (tree["root"] / "data").as_uri() + "/"
    assert (await api("datasets", "POST", {"name": "ds", "source_url": url}))[0] == 201
    status, reply = await api("datasets/ds/mount", "POST", {"path": MOUNTS[kind](tree)})
    refused(status, reply, "path")
    assert not (tree["outside"] / "ds").exists()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_edited_mount_path_removes_nothing_outside(
    api: Api, tree: dict[str, Path], server_services: Services, kind: str
) -> None:
    victim = tree["outside"] / "ds"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    stored = {
        "dotdot": f"{tree['mounts']}/../outside/ds",
        "absolute": str(victim),
        "symlink": str(tree["mounts"] / "escape" / "ds"),
    }[kind]
    with server_services.db.session() as session:
        session.add(Dataset(name="ds", source_url="file:///x", options={}, mount_path=stored))
    for verb, path in (("DELETE", "datasets/ds/mount"), ("DELETE", "datasets/ds")):
        status, reply = await api(path, verb)
        assert (status, reply["field"]) == (409, "mount_path"), reply
        assert "nothing was removed" in reply["message"]
    assert (victim / "keep.txt").read_text() == "mine"
    assert (await api("datasets/ds"))[1]["mount_path"] == stored


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [
        ("sha256", "../../../../outside/secret.bin", "sha256"),
        ("path", "../../../../outside/planted.bin", "files.path"),
    ],
)
async def test_an_edited_file_row_reads_and_writes_nothing_outside(
    api: Api, tree: dict[str, Path], server_services: Services, column: str, value: str, field: str
) -> None:
    from sqlalchemy import update

    from labrig.models.tables import ModelBlob, ModelFile

    assert (await api("models/m/versions", "POST", {"path": "nb/model.bin"}))[0] == 201
    with server_services.db.session() as session:
        if column == "sha256":  # a file row must name a blob row
            session.add(ModelBlob(sha256=value, size=6, created_at=datetime.now(UTC)))
            session.flush()
        session.execute(update(ModelFile).values({column: value}))
    if column == "sha256":
        refused(*await api("models/m/versions/1/files/model.bin"), field)
    from labrig.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        server_services.models.load_path("m/1")  # the CLI's and Python API's `load`
    assert info.value.field == field
    assert not (tree["outside"] / "planted.bin").exists()


async def test_a_file_in_a_dataset_folder_that_leads_outside_is_refused(
    api: Api, tree: dict[str, Path]
) -> None:
    os.symlink(tree["outside"] / "secret.bin", tree["root"] / "data" / "secret.bin")
    url = (tree["root"] / "data").as_uri() + "/"
    status, reply = await api("datasets", "POST", {"name": "sneaky", "source_url": url})
    refused(status, reply, "source_url")
    assert "secret.bin' goes through a symlink" in reply["message"]
    assert (await api("datasets/sneaky"))[0] == 404


def test_a_symlink_planted_after_the_listing_is_not_read(tree: dict[str, Path]) -> None:
    from labrig.dataset_mounts.sources import Source
    from labrig.errors import InvalidInput

    source = Source("d", (tree["root"] / "data").as_uri() + "/", {}, None)
    [entry] = source.list()
    (tree["root"] / "data" / "rows.csv").unlink()
    os.symlink(tree["outside"] / "secret.bin", tree["root"] / "data" / "rows.csv")
    with pytest.raises(InvalidInput) as info:
        source.read(entry, 0, 4)
    assert info.value.field == "source_url"
