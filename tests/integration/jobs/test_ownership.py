"""Jobs and schedules belong to who made them: another user finds them exactly as absent as ids
that never existed, over REST, the events stream, the downloads, the CLI and the Python API, on
SQLite and PostgreSQL; administrators see and act on everything; the ranks act as the owner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from identities import ADMIN, API, Caller, as_user_fixture, server_config_fixture  # noqa: F401
from sqlalchemy import update

import labrig
from labrig import identity
from labrig.cli import cli
from labrig.errors import NotFound
from labrig.jobs.service import JobService
from labrig.services import Services
from labrig.store import PageRequest
from labrig.store.tables import Job

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
TRAIN = {"notebook_path": "nb/train.ipynb", "parameters": {"lr": 2, "epochs": 5}}
GUESSED = "0123456789ab"  # an id no job has


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    return on_each_database


async def alices_finished_job(as_user: Any) -> dict[str, Any]:
    code, job = await as_user("alice").api("jobs", method="POST", body=TRAIN)
    assert code == 201, job
    assert job["owner"] == "alice"
    done = await as_user("alice").ended_job(job["id"])
    assert done["status"] == "SUCCEEDED", done
    return done


def as_absent(reply: Any, job_id: str) -> Any:
    """The answer with the id replaced by the guessed one: an owned job's 404 must be word for
    word the 404 of an id that does not exist (messages may shorten ids to their first 8)."""
    text = json.dumps(reply).replace(job_id, GUESSED).replace(job_id[:8], GUESSED[:8])
    return json.loads(text)


#: Every job route, as (method, path under jobs/<id>, body).
JOB_ROUTES = [
    ("GET", "", None),
    ("GET", "/logs", None),
    ("GET", "/metrics", None),
    ("GET", "/output", None),
    ("GET", "/events", None),
    ("GET", "/links", None),
    ("POST", "/cancel", {}),
    ("POST", "/rerun", {}),
    ("DELETE", "", None),
]


async def answers(caller: Caller, job_id: str) -> list[tuple[int, Any]]:
    """The caller's answer on every job route for ``job_id``."""
    replies = []
    for method, tail, body in JOB_ROUTES:
        kwargs: dict[str, Any] = {"method": method}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        response = await caller.fetch(*API, f"jobs/{job_id}{tail}", **kwargs)
        replies.append((response.code, json.loads(response.body) if response.body else None))
    return replies


async def test_bob_finds_alices_job_on_no_route_as_if_it_never_existed(
    as_user: Any, server_root: Path, server_services: Services
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    job = await alices_finished_job(as_user)
    guessed = await answers(bob, GUESSED)
    assert [code for code, _ in guessed] == [404] * len(JOB_ROUTES)
    assert guessed[0][1]["message"].startswith(f"no job with id {GUESSED!r}")
    tried = await answers(bob, job["id"])
    assert [(code, as_absent(reply, job["id"])) for code, reply in tried] == guessed
    code, listed = await bob.api("jobs")
    assert (code, listed["items"]) == (200, [])
    code, listed = await bob.api("jobs", status="SUCCEEDED")
    assert listed["items"] == []
    # Nothing bob tried changed it: it is there, whole, for alice.
    code, same = await alice.api(f"jobs/{job['id']}")
    assert (code, same["status"], same["owner"]) == (200, "SUCCEEDED", "alice")
    assert (server_root / job["output_path"]).is_file()
    code, listed = await alice.api("jobs")
    assert [item["id"] for item in listed["items"]] == [job["id"]]


async def test_the_owner_reads_logs_events_output_and_snapshot_and_bob_none_of_them(
    as_user: Any, server_root: Path
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    job = await alices_finished_job(as_user)
    code, chunk = await alice.api(f"jobs/{job['id']}/logs")
    assert (code, "10" in chunk["text"]) == (200, True)  # lr * epochs
    events = await alice.fetch(*API, f"jobs/{job['id']}/events", request_timeout=120)
    assert events.code == 200
    assert events.headers["Content-Type"] == "text/event-stream"
    assert "event: end" in events.body.decode()
    output = await alice.fetch(*API, f"jobs/{job['id']}/output")
    assert (output.code, b"lr * epochs" in output.body) == (200, True)
    code, snapshot = await alice.api(f"snapshots/{job['snapshot_sha256']}")
    assert code == 200, snapshot
    assert [item["id"] for item in snapshot["jobs"]] == [job["id"]]
    code, refused = await bob.api(f"snapshots/{job['snapshot_sha256']}")
    code_absent, absent = await bob.api(f"snapshots/{'0' * 64}")
    assert (code, code_absent) == (404, 404)
    assert refused["message"].replace(job["snapshot_sha256"][:8], "0" * 8) == absent["message"]
    events = await bob.fetch(*API, f"jobs/{job['id']}/events")
    assert (events.code, events.headers["Content-Type"]) == (404, "application/json")


async def test_bob_submitting_the_same_notebook_sees_only_his_job_in_the_snapshot(
    as_user: Any, server_root: Path
) -> None:
    alices = await alices_finished_job(as_user)
    code, bobs = await as_user("bob").api("jobs", method="POST", body=TRAIN)
    assert (code, bobs["owner"]) == (201, "bob")
    assert bobs["snapshot_sha256"] == alices["snapshot_sha256"]  # the same bytes
    code, snapshot = await as_user("bob").api(f"snapshots/{bobs['snapshot_sha256']}")
    assert [item["id"] for item in snapshot["jobs"]] == [bobs["id"]]
    code, both = await as_user(ADMIN).api(f"snapshots/{bobs['snapshot_sha256']}")
    assert {item["id"] for item in both["jobs"]} == {alices["id"], bobs["id"]}
    await as_user("bob").api(f"jobs/{bobs['id']}/cancel", method="POST", body={})


async def test_the_admin_sees_reruns_and_deletes_alices_job_and_owns_the_rerun(
    as_user: Any, server_root: Path
) -> None:
    alice, admin = as_user("alice"), as_user(ADMIN)
    job = await alices_finished_job(as_user)
    code, listed = await admin.api("jobs")
    assert [item["id"] for item in listed["items"]] == [job["id"]]
    code, seen = await admin.api(f"jobs/{job['id']}")
    assert (code, seen["owner"]) == (200, "alice")
    output = await admin.fetch(*API, f"jobs/{job['id']}/output")
    assert output.code == 200
    code, own = await alice.api(f"jobs/{job['id']}/rerun", method="POST", body={})
    assert (code, own["owner"], own["rerun_of"]) == (201, "alice", job["id"])
    code, theirs = await admin.api(f"jobs/{job['id']}/rerun", method="POST", body={})
    assert (code, theirs["owner"]) == (201, ADMIN)
    code, listed = await alice.api("jobs")
    assert {item["id"] for item in listed["items"]} == {job["id"], own["id"]}
    for rerun in (own, theirs):
        await admin.ended_job(rerun["id"])
    code, _ = await admin.api(f"jobs/{job['id']}", method="DELETE")
    assert code == 204
    code, _ = await alice.api(f"jobs/{job['id']}")
    assert code == 404


async def test_a_job_from_before_owners_were_recorded_is_everyones(
    as_user: Any, server_root: Path, server_services: Services
) -> None:
    job = await alices_finished_job(as_user)
    with server_services.db.session() as session:
        session.execute(update(Job).where(Job.id == job["id"]).values(owner=None))
    code, seen = await as_user("bob").api(f"jobs/{job['id']}")
    assert (code, seen["owner"]) == (200, None)
    code, listed = await as_user("bob").api("jobs")
    assert [item["id"] for item in listed["items"]] == [job["id"]]


async def test_schedules_are_their_owners_and_fire_jobs_owned_by_them(
    as_user: Any, server_root: Path, server_services: Services
) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    body = {"cron": "0 3 * * *", "job": TRAIN, "paused": True}
    code, sched = await alice.api("job-schedules", method="POST", body=body)
    assert (code, sched["owner"]) == (201, "alice")
    sid = sched["id"]
    code, listed = await bob.api("job-schedules")
    assert listed["items"] == []
    for method, tail in [("GET", ""), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/run")]:
        body = {} if method == "POST" else None
        tried = await bob.api(f"job-schedules/{sid}{tail}", method=method, body=body)
        guessed = await bob.api(f"job-schedules/{GUESSED}{tail}", method=method, body=body)
        assert tried[0] == guessed[0] == 404
        assert as_absent(tried[1], sid) == guessed[1]
    code, _ = await bob.api(f"job-schedules/{sid}", method="DELETE")
    assert code == 404
    code, listed = await admin.api("job-schedules")
    assert [item["id"] for item in listed["items"]] == [sid]
    code, run = await admin.api(f"job-schedules/{sid}/run", method="POST", body={})
    assert (code, run["owner"], run["schedule_id"]) == (201, "alice", sid)
    # The server's own firing (no request, no user) gives the job to the schedule's owner too.
    code, _ = await alice.api(f"job-schedules/{sid}/resume", method="POST", body={})
    assert code == 200
    fired = await asyncio.to_thread(fire_every_minute, server_services.jobs, sid)
    code, job = await alice.api(f"jobs/{fired}")
    assert (code, job["owner"], job["schedule_id"]) == (200, "alice", sid)
    code, _ = await bob.api(f"jobs/{fired}")
    assert code == 404
    for job_id in (run["id"], fired):
        await alice.api(f"jobs/{job_id}/cancel", method="POST", body={})
    code, _ = await alice.api(f"job-schedules/{sid}", method="DELETE")
    assert code == 204


def fire_every_minute(jobs: JobService, schedule_id: str) -> str:
    """Make the schedule due (every minute, last fired an hour ago) and fire it as the server's
    ticker does; returns the fired job's id."""
    from datetime import timedelta

    from labrig.store.tables import JobSchedule

    with jobs.db.session() as session:
        row = session.get(JobSchedule, schedule_id)
        assert row is not None
        row.cron = "* * * * *"
        row.last_occurrence = jobs.clock() - timedelta(hours=1)
    fired = jobs.fire_schedules()
    assert len(fired) == 1
    return fired[0]


# --- the CLI and the Python API ---------------------------------------------------------------


@pytest.fixture
def admin_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and ``labrig.connect()`` read the server's configuration: ``admin`` administers."""
    config = tmp_path / "jupyter_server_config.json"
    config.write_text(json.dumps({"LabrigApp": {"admin_users": [ADMIN]}}))
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))


def labrig_as(user: str, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={identity.USER_ENV: user})


@pytest.fixture
def sleeper(root: Path, notebook: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A job alice submitted with the CLI that runs until cancelled."""
    notebook("sleep.ipynb", "import time\ntime.sleep(300)")
    monkeypatch.chdir(root)
    submitted = labrig_as("alice", "jobs", "submit", "sleep.ipynb", "--json")
    assert submitted.exit_code == 0, submitted.output
    job_id = str(json.loads(submitted.output)["id"])
    yield job_id
    labrig_as(ADMIN, "jobs", "cancel", job_id)


def test_the_cli_acts_as_labrig_user_and_bob_cannot_touch_alices_job(
    admin_config: None, sleeper: str
) -> None:
    assert sleeper in labrig_as("alice", "jobs", "ls").output
    assert sleeper not in labrig_as("bob", "jobs", "ls").output
    assert sleeper in labrig_as(ADMIN, "jobs", "ls").output
    for command in (["show"], ["logs"], ["cancel"], ["rerun"], ["rm"]):
        tried = labrig_as("bob", "jobs", *command, sleeper)
        guessed = labrig_as("bob", "jobs", *command, GUESSED)
        assert tried.exit_code == guessed.exit_code == 1, (command, tried.output)
        assert tried.output.replace(sleeper, GUESSED) == guessed.output
        assert "no job with id" in tried.output
    shown = labrig_as("alice", "jobs", "show", sleeper, "--json")
    assert json.loads(shown.output)["status"] in ("QUEUED", "STARTING", "RUNNING")
    cancelled = labrig_as("alice", "jobs", "cancel", sleeper)
    assert (cancelled.exit_code, "status: CANCELLED" in cancelled.output) == (0, True)


def test_the_cli_admin_acts_on_every_job(admin_config: None, sleeper: str) -> None:
    cancelled = labrig_as(ADMIN, "jobs", "cancel", sleeper)
    assert (cancelled.exit_code, "status: CANCELLED" in cancelled.output) == (0, True), (
        cancelled.output
    )
    removed = labrig_as(ADMIN, "jobs", "rm", sleeper)
    assert removed.exit_code == 0, removed.output
    assert "no job with id" in labrig_as("alice", "jobs", "show", sleeper).output


def test_the_cli_shows_and_acts_on_ones_own_schedules_only(
    admin_config: None, root: Path, notebook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook("nightly.ipynb", "print(1)")
    monkeypatch.chdir(root)
    made = labrig_as("alice", "jobs", "submit", "nightly.ipynb", "--cron", "0 3 * * *", "--json")
    assert made.exit_code == 0, made.output
    sid = json.loads(made.output)["id"]
    assert sid not in labrig_as("bob", "jobs", "schedules", "ls").output
    assert sid in labrig_as(ADMIN, "jobs", "schedules", "ls").output
    for action in ("pause", "resume", "run", "rm"):
        tried = labrig_as("bob", "jobs", "schedules", action, sid)
        guessed = labrig_as("bob", "jobs", "schedules", action, GUESSED)
        assert tried.exit_code == guessed.exit_code == 1, (action, tried.output)
        assert tried.output.replace(sid, GUESSED) == guessed.output
    paused = labrig_as("alice", "jobs", "schedules", "pause", sid)
    assert "paused: True" in paused.output, paused.output
    assert labrig_as(ADMIN, "jobs", "schedules", "rm", sid).exit_code == 0
    assert sid not in labrig_as("alice", "jobs", "schedules", "ls").output


def test_the_python_api_acts_as_labrig_user(
    admin_config: None, sleeper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(identity.USER_ENV, "bob")
    bobs = labrig.connect()
    with pytest.raises(NotFound, match="no job with id"):
        bobs.jobs.get(sleeper)
    with pytest.raises(NotFound, match="no job with id"):
        bobs.jobs.cancel(sleeper)
    assert bobs.jobs.list(PageRequest(limit=50)).items == []
    bobs.close()
    monkeypatch.setenv(identity.USER_ENV, "alice")
    alices = labrig.connect()
    assert alices.jobs.get(sleeper)["owner"] == "alice"
    assert alices.jobs.cancel(sleeper)["status"] == "CANCELLED"
    alices.close()


# --- the Authorizer ---------------------------------------------------------------------------

BOB_DENIED_JOBS = {"authorizer": {"deny_sections": {"bob": ["labrig:jobs"]}}}


@pytest.mark.parametrize("jp_server_config", [BOB_DENIED_JOBS], indirect=True)
async def test_an_authorizer_denying_labrig_jobs_refuses_the_jobs_section_only(
    as_user: Any, server_root: Path
) -> None:
    bob = as_user("bob")
    for method, path in [
        ("GET", "jobs"),
        ("POST", "jobs"),
        ("GET", f"jobs/{GUESSED}/events"),
        ("GET", f"jobs/{GUESSED}/output"),
        ("GET", "job-schedules"),
        ("GET", "job-form/nb/train.ipynb"),
    ]:
        code, _ = await bob.api(path, method=method, body=TRAIN if method == "POST" else None)
        assert code == 403, (method, path)
    code, models = await bob.api("models")
    assert code == 200, models
    code, _ = await as_user("alice").api("jobs")
    assert code == 200


AUTHORIZER_ADMIN = {
    "labrig": {"admins_from_authorizer": True},
    "authorizer": {"grant_admin": ["bob"]},
}
ONLY_GRANTED = {"authorizer": {"grant_admin": ["bob"]}}


@pytest.mark.parametrize(
    ("jp_server_config", "bob_sees"),
    [(AUTHORIZER_ADMIN, True), (ONLY_GRANTED, False)],
    indirect=["jp_server_config"],
)
async def test_admins_from_authorizer_makes_who_it_grants_labrig_admin_an_administrator(
    as_user: Any, server_root: Path, bob_sees: bool
) -> None:
    code, job = await as_user("alice").api("jobs", method="POST", body=TRAIN)
    assert code == 201, job
    code, seen = await as_user("bob").api(f"jobs/{job['id']}")
    assert code == (200 if bob_sees else 404), seen
    code, listed = await as_user("bob").api("jobs")
    assert [item["id"] for item in listed["items"]] == ([job["id"]] if bob_sees else [])
    code, _ = await as_user("alice").api(f"jobs/{job['id']}/cancel", method="POST", body={})
    assert code in (200, 409)  # 409: it already ended


# --- the ranks act as the job's owner ---------------------------------------------------------


def test_a_local_rank_acts_as_the_jobs_owner_who_registers_its_outputs(
    local_jobs: JobService, services: Services, notebook: Any, wait: Any
) -> None:
    local_jobs.model_outputs = services.models
    notebook(
        "whoami.ipynb",
        "import os\nprint('acting as', os.environ['LABRIG_USER'])\n"
        "open('head.bin', 'wb').write(b'h')",
    )
    body = {
        "notebook_path": "whoami.ipynb",
        "procs_per_node": 2,
        "outputs": [{"name": "alices-head", "path": "head.bin"}],
    }
    with identity.acting_as(identity.Principal("alice")):
        job = local_jobs.submit(body)
        assert wait(local_jobs, job["id"], FINAL)["status"] == "SUCCEEDED"
        for rank in (0, 1):
            assert "acting as alice" in local_jobs.logs(job["id"], rank)["text"]
    local_jobs.tick()  # the server's finalising, as nobody in particular
    assert services.models.get_ref("alices-head")["user"] == "alice"


def test_kubernetes_ranks_act_as_the_jobs_owner(
    services: Services, root: Path, labrig_env: Path, kube: Any, notebook: Any
) -> None:
    from labrig.k8s.client import PYTORCHJOB

    jobs = JobService(services.db, labrig_env, root, backend=kube.backend())
    notebook("work.ipynb", "print(1)")
    with identity.acting_as(identity.Principal("alice")):
        job = jobs.submit({"notebook_path": "work.ipynb", "nodes": 2})
        (made,) = [
            item
            for item in kube.emu.store.select(PYTORCHJOB.title)
            if job["id"] in json.dumps(item["metadata"])
        ]
        replicas = made["spec"]["pytorchReplicaSpecs"]
        for replica in replicas.values():
            (container,) = replica["template"]["spec"]["containers"]
            assert {"name": identity.USER_ENV, "value": "alice"} in container["env"]
        assert set(replicas) == {"Master", "Worker"}
        jobs.cancel(job["id"])
    jobs.backend.stop()
