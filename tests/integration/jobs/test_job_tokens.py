"""A local job's ranks hold a credential scoped to their job, never the server's: no database
URL, but the server's URL and a token acting as the job's owner on labrig's API, revoked when the
job ends. What a rank registers is staged in the job's folder and registered under the owner
when the job ends, as on a cluster; the rank's kernel, even under labrig's provisioner, opens no
database. A job that a supervisor admits while no server runs gets its token too."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from identities import API, Caller, as_user_fixture, server_config_fixture
from k8s.rig import IMAGE
from sqlalchemy import select

from labrig import identity
from labrig.app import LabrigApp
from labrig.jobs.runtime import JobLayout
from labrig.jobs.service import JobService
from labrig.services import Services, build_services
from labrig.store.tables import ApiToken
from labrig.tokens import ApiTokens, TokenGrant

__all__ = ["as_user_fixture", "server_config_fixture"]

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
#: The rank reports what it holds and calls the API with it, by hand, as any script could.
RANK_CELLS = (
    """import json, os, urllib.error, urllib.request
rank = int(os.environ["RANK"])
print("database url visible:", "LABRIG_DATABASE_URL" in os.environ)
print("provisioner's kernel id:", os.environ.get("LABRIG_KERNEL_ID"))
with open(os.path.join(seen_dir, f"token-{rank}"), "w") as f:
    f.write(os.environ["LABRIG_API_TOKEN"])

def call(path):
    request = urllib.request.Request(
        os.environ["LABRIG_SERVER_URL"] + "labrig/api/v1/" + path,
        headers={"Authorization": "token " + os.environ["LABRIG_API_TOKEN"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as err:
        return err.code, None""",
    """status, listed = call("jobs")
print("jobs seen:", status, sorted(job["owner"] for job in listed["items"]))
print("bob's job:", call(f"jobs/{bobs_job}")[0])""",
    """import labrig.models
open(f"w{rank}.bin", "wb").write(b"w" * (rank + 1))
reply = labrig.models.register("rank-model", f"w{rank}.bin", metrics={"rank": rank})
print("registered:", reply["version"], reply["staged"], reply["ref"])""",
)


def until(check: Callable[[], Any], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def rank_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    # A kernelspec naming labrig's provisioner: inside a rank it must start a plain kernel.
    nb.metadata["kernelspec"] = {"name": "labrig-rank", "display_name": "labrig rank"}
    params = nbformat.v4.new_code_cell('seen_dir = ""\nbobs_job = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(cell) for cell in RANK_CELLS)]
    nbformat.write(nb, path)


@pytest.fixture
def rank_kernelspec(jp_data_dir: Path) -> str:
    """A kernelspec (found by the server and by the ranks) that names labrig's provisioner."""
    folder = jp_data_dir / "kernels" / "labrig-rank"
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "labrig rank",
        "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "labrig-local-provisioner"}},
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return "labrig-rank"


async def with_token(caller: Caller, token: str, path: str) -> int:
    response = await caller.jp_fetch(
        *API, path, headers={"Authorization": f"token {token}"}, raise_error=False
    )
    code: int = response.code
    return code


async def test_local_ranks_reach_the_api_as_the_owner_with_a_token_revoked_at_the_end(
    on_each_database: str,
    as_user: Any,
    jp_root_dir: Path,
    labrig_env: Path,
    rank_kernelspec: str,
    tmp_path: Path,
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    rank_notebook(jp_root_dir / "ranks.ipynb")
    (jp_root_dir / "other.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    code, bobs = await bob.api("jobs", "POST", {"notebook_path": "other.ipynb"})
    assert code == 201, bobs
    await bob.api(f"jobs/{bobs['id']}/cancel", "POST", {})
    seen = tmp_path / "seen"  # outside every folder labrig writes
    seen.mkdir()
    code, job = await alice.api(
        "jobs",
        "POST",
        {
            "notebook_path": "ranks.ipynb",
            "procs_per_node": 2,
            "kernel_name": rank_kernelspec,
            "parameters": {"seen_dir": str(seen), "bobs_job": bobs["id"]},
        },
    )
    assert code == 201, job
    done = await alice.ended_job(job["id"], seconds=300)
    logs = [(await alice.api(f"jobs/{job['id']}/logs", rank=r))[1]["text"] for r in (0, 1)]
    assert done["status"] == "SUCCEEDED", (done, logs)
    staged = f"registered: None True rank-model (staged: registered when job {job['id']} ends)"
    for log in logs:
        assert "database url visible: False" in log
        assert "provisioner's kernel id: None" in log  # a plain kernel: no plan, no database
        assert "jobs seen: 200 ['alice']" in log  # alice's view, not bob's or an admin's
        assert "bob's job: 404" in log
        assert staged in log

    # Registered at the end, once per rank, as alice, with the job's lineage.
    for _ in range(600):
        code, versions = await alice.api("models/rank-model/versions")
        if code == 200 and len(versions["items"]) == 2:
            break
        await asyncio.sleep(0.2)
    assert sorted((v["user"], v["lineage"]["rank"]) for v in versions["items"]) == [
        ("alice", 0),
        ("alice", 1),
    ]
    assert {v["lineage"]["job_id"] for v in versions["items"]} == {job["id"]}

    # Each rank held the same token; once the job ended it is refused (checks are cached for
    # a few seconds in the server), and it was written nowhere labrig keeps files.
    tokens = {(seen / f"token-{rank}").read_text() for rank in (0, 1)}
    assert len(tokens) == 1
    (token,) = tokens
    for _ in range(300):
        if await with_token(alice, token, "jobs") == 403:
            break
        await asyncio.sleep(0.2)
    assert await with_token(alice, token, "jobs") == 403
    holding = [
        str(path)
        for folder in (labrig_env, jp_root_dir)
        for path in folder.rglob("*")
        if path.is_file() and token.encode() in path.read_bytes()
    ]
    assert holding == []
    assert (JobLayout.of(labrig_env, job["id"]).root / "job.json").is_file()  # it was searched


def test_a_job_a_supervisor_admits_with_no_server_gets_its_own_token(
    labrig_env: Path, root: Path, notebook: Any, tmp_path: Path
) -> None:
    seen = tmp_path / "seen"
    notebook(
        "hold.ipynb",
        "import os, time\n"
        "print('database url visible:', 'LABRIG_DATABASE_URL' in os.environ)\n"
        "print('server url:', os.environ.get('LABRIG_SERVER_URL'))\n"
        "with open(os.path.join(seen, 'token'), 'w') as f:\n"
        "    f.write(os.environ['LABRIG_API_TOKEN'])\n"
        "while not os.path.exists(os.path.join(seen, 'go')):\n"
        "    time.sleep(0.1)",
        params="seen = ''",
    )
    for name in ("first", "second"):
        (seen / name).mkdir(parents=True)
    (seen / "first" / "go").touch()  # the first job goes straight through
    app = LabrigApp(data_dir=str(labrig_env), kernel_server_url="http://jupyter.example:8888/x")
    services = build_services(app, root_dir=str(root))
    jobs = services.jobs
    try:
        with identity.acting_as(identity.Principal("alice")):
            cpus = jobs.host.cpus
            first, second = (
                jobs.submit(
                    {
                        "notebook_path": "hold.ipynb",
                        "cpus": cpus,
                        "parameters": {"seen": str(seen / n)},
                    }
                )
                for n in ("first", "second")
            )
            assert jobs.get(second["id"])["status"] == "QUEUED"
            # Nobody ticks: the first job's supervisor admits the second, minting its token.
            token_file = seen / "second" / "token"
            until(token_file.is_file)
            token = token_file.read_text()
            checks = ApiTokens(jobs.db, cache_seconds=0)
            assert checks.verify(token) == TokenGrant("alice", "job", second["id"])
            (seen / "second" / "go").touch()
            until(lambda: jobs._row(second["id"]).finalized)
            assert jobs.get(second["id"])["status"] == "SUCCEEDED"
            log = jobs.logs(second["id"], 0)["text"]
            assert "database url visible: False" in log
            assert "server url: http://jupyter.example:8888/x/" in log
            assert checks.verify(token) is None  # revoked by the supervisor that finalized it
            assert jobs.get(first["id"])["status"] == "SUCCEEDED"
    finally:
        services.close()


@pytest.mark.parametrize("job_api", ["pytorchjob", "trainjob"])
def test_kubernetes_ranks_get_neither_the_database_url_nor_a_token(
    services: Services, root: Path, labrig_env: Path, kube: Any, notebook: Any, job_api: str
) -> None:
    """What reaches a cluster (the job object and its ConfigMap) names no database and holds
    no token: those ranks stage what they register on the job's storage."""
    from labrig.k8s.client import CONFIGMAP, PYTORCHJOB, TRAINJOB

    if job_api == "trainjob":
        kube.cluster.add_runtime(image=IMAGE)
    jobs = JobService(services.db, labrig_env, root, backend=kube.backend(job_api=job_api))
    notebook("work.ipynb", "print(1)")
    job = jobs.submit({"notebook_path": "work.ipynb", "nodes": 2})
    try:
        kind = TRAINJOB if job_api == "trainjob" else PYTORCHJOB
        sent = [
            json.dumps(item)
            for title in (kind.title, CONFIGMAP.title)
            for item in kube.emu.store.select(title)
            if job["id"] in json.dumps(item["metadata"])
        ]
        assert len(sent) == 2
        for text in sent:
            for needle in (
                services.db.url,
                "LABRIG_DATABASE_URL",
                "LABRIG_API_TOKEN",
                "labrig-job-",
            ):
                assert needle not in text
    finally:
        if jobs.get(job["id"])["status"] not in FINAL:
            jobs.cancel(job["id"])
        jobs.backend.stop()


def test_deleting_a_running_job_revokes_its_token(
    local_jobs: JobService, notebook: Any, wait: Any
) -> None:
    notebook("sleep.ipynb", "import time\ntime.sleep(300)")
    job = local_jobs.submit({"notebook_path": "sleep.ipynb"})
    wait(local_jobs, job["id"], ("RUNNING",))
    with local_jobs.db.session() as session:
        minted = session.scalars(select(ApiToken).where(ApiToken.subject == job["id"])).all()
        assert [(t.kind, t.owner) for t in minted] == [("job", job["owner"])]
    local_jobs.delete(job["id"])
    with local_jobs.db.session() as session:
        assert session.scalars(select(ApiToken).where(ApiToken.subject == job["id"])).all() == []
