"""The fuzz run with two identities: alice owns the seeded objects, the fuzzer acts as bob.

The server runs with ``identities.TokenUsers`` (each token one user). Alice owns everything the
single-user run seeds (a shared dataset, a model with a version and an alias, a cancelled job,
a paused schedule) plus what only she may see: a private dataset, a job and a schedule on a
notebook under a folder of hers, and a resource request on the shared notebook. schemathesis then
calls every operation as bob, with alice's real identifiers in half of the path parameters, and
``fuzz_user_hooks.py`` checks each answer: what alice's rules hide answers exactly as a missing
object does, no answer shows her hidden names, and bob's writes to her models, shared dataset and
resource request are refused as the policies say (or allowed where they say anyone). The same
operations without credentials, or with a wrong token, are all refused.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from fuzz_api import (
    CHECKS,
    HERE,
    PROFILES,
    FuzzCaller,
    FuzzResult,
    LiveServer,
    Profile,
    run_schemathesis,
    server_errors_logged,
)

from labrig.models.job_outputs import idempotency_key_for

USER_HOOKS = HERE / "fuzz_user_hooks.py"
ALICE, BOB = "token-of-alice", "token-of-bob"
USERS = {ALICE: "alice", BOB: "bob"}
#: Checks of the run as bob: the single-user ones (but ``ignored_auth``, the anonymous run's
#: job here) and the rules between users.
BOB_CHECKS = ",".join(
    [check for check in CHECKS.split(",") if check != "ignored_auth"]
    + ["hidden_answers_as_missing", "nothing_hidden_in_answer", "others_writes_follow_rules"]
)
#: The run without (valid) credentials: every answer a refusal, none a server error.
REFUSED_CHECKS = "not_a_server_error,refused_without_credentials"
#: Refusals need no depth: the documented examples and a few generated cases per operation
#: (``make fuzz`` generates more, with the negative cases of the coverage phase).
REFUSALS = {
    "bounded": Profile(max_examples=2, phases="examples,fuzzing", timeout=600),
    "long": Profile(max_examples=20, phases="examples,coverage,fuzzing", timeout=3600),
}
WRONG_TOKEN = "not-a-token-of-anyone"
#: The folder of alice's hidden notebook, and what marks her hidden names (no generator makes it).
SECRET_MARK = "c7f3e9"


@dataclass(frozen=True)
class AlicesHidden:
    """What the rules hide from bob: identifiers (in path parameters) and names (in text)."""

    job_ids: tuple[str, ...]
    schedule_ids: tuple[str, ...]
    snapshot_sha256: str  # of her private notebook (the shared one's bob may share)
    dataset: str
    job_names: tuple[str, ...]
    notebook_path: str

    def identifiers(self) -> dict[str, tuple[str, str]]:
        """Each hidden identifier: a stand-in of the same shape that nobody uses, and the routes
        it names an object on (a model may be called like her dataset)."""
        hidden = {job_id: "/jobs/" for job_id in self.job_ids}
        hidden.update({schedule_id: "/job-schedules/" for schedule_id in self.schedule_ids})
        hidden[self.snapshot_sha256] = "/snapshots/"
        ids = {real: (secrets.token_hex(len(real) // 2), routes) for real, routes in hidden.items()}
        return {**ids, self.dataset: (f"nobody-{secrets.token_hex(4)}-data", "/datasets/")}

    def names(self) -> list[str]:
        """Text no answer to bob may contain (unless he sent it himself)."""
        return [self.dataset, *self.job_names, self.notebook_path, self.snapshot_sha256]


#: Alice's visible objects that bob may read but not change (seeded by ``LiveServer.seed``).
ALICES_VISIBLE = {
    "owner": "alice",
    "model": "fuzz-model",
    "model_versions": ["1", "2", "production"],
    "dataset": "fuzz-data",
    "notebook": "fuzz.ipynb",
}
SEEDED_JOB_NAME = "fuzz-job"  # what ``LiveServer.seed`` calls its job
ALICES_RESOURCES = {"profile": "custom", "cpus": "500m", "memory": "1Gi"}


def seed_alice(server: LiveServer) -> AlicesHidden:
    """``LiveServer.seed`` as alice, then her hidden objects; their identifiers join the
    dictionaries bob's requests draw path parameters from. All her jobs and schedules (the
    seeded ones too) are hidden from bob."""
    server.seed()
    dataset = f"alice-data-{SECRET_MARK}"
    source = server.root / "dataset-source"
    server.call(
        "POST", "/datasets", {"name": dataset, "source_url": source.as_uri(), "private": True}
    )
    server.wait_for_warm_up(dataset)
    job = run_private_job(server, dataset)
    schedule = server.call(
        "POST",
        "/job-schedules",
        {"cron": "0 3 * * *", "paused": True, "job": {"notebook_path": job["notebook_path"]}},
    )
    server.call("PUT", f"/resources/{ALICES_VISIBLE['notebook']}", ALICES_RESOURCES)
    seeded = server.seeded
    seeded["job_id"].append(job["id"])
    seeded["schedule_id"].append(schedule["id"])
    seeded["sha256"].append(job["snapshot_sha256"])
    seeded["name"].append(dataset)
    # Registering under the key of her job's output (its parts can be known or guessed) finds
    # her version: bob's registrations send it half the time, with a file that exists.
    output = (server.root / job["notebook_path"]).parent / "weights.bin"
    server.body_seeded = {
        "idempotency_key": [idempotency_key_for(job["id"], 0, str(output.resolve()))],
        "path": ["model.bin"],
    }
    return AlicesHidden(
        tuple(seeded["job_id"]),
        tuple(seeded["schedule_id"]),
        job["snapshot_sha256"],
        dataset,
        (SEEDED_JOB_NAME, job["name"]),
        job["notebook_path"],
    )


def run_private_job(server: LiveServer, dataset: str) -> dict[str, Any]:
    """Alice's job on a notebook of hers, reading her private dataset, run to the end: its
    output becomes version 2 of her (readable) model, whose lineage records the job."""
    notebook_path = f"alice-{SECRET_MARK}/private-{SECRET_MARK}.ipynb"
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        # Bytes of hers alone: a snapshot bob's jobs could share would not be hidden.
        cells=[nbformat.v4.new_code_cell(f"open('weights.bin', 'w').write('{SECRET_MARK}')")],
    )
    (server.root / notebook_path).parent.mkdir()
    (server.root / notebook_path).write_text(nbformat.writes(notebook))
    model = ALICES_VISIBLE["model"]
    body = {
        "notebook_path": notebook_path,
        "name": f"alice-job-{SECRET_MARK}",
        "datasets": [dataset],
        "outputs": [{"name": model, "path": "weights.bin"}],
    }
    job = server.wait_for_job(server.call("POST", "/jobs", body)["id"])
    if job["status"] != "SUCCEEDED":
        raise RuntimeError(f"alice's seeded job did not succeed: {job}")
    server.wait_until(lambda: server.call("GET", f"/models/{model}")["latest_version"] == 2)
    return job


def as_bob(hidden: AlicesHidden) -> FuzzCaller:
    return FuzzCaller(
        token=BOB,
        checks=BOB_CHECKS,
        hooks=USER_HOOKS,
        env={
            "LABRIG_FUZZ_HIDDEN": json.dumps(hidden.identifiers()),
            "LABRIG_FUZZ_SECRETS": json.dumps(hidden.names()),
            "LABRIG_FUZZ_OTHERS": json.dumps(ALICES_VISIBLE),
        },
    )


def without_credentials(token: str | None) -> FuzzCaller:
    """No Authorization header (``None``) or a token nobody has."""
    return FuzzCaller(token=token, checks=REFUSED_CHECKS, hooks=USER_HOOKS)


def alices_objects(server: LiveServer, hidden: AlicesHidden) -> dict[str, Any]:
    """What alice sees of what was seeded for her, to compare before and after bob's run."""

    def get(path: str) -> Any:
        return server.call("GET", path, token=ALICE)

    model = get(f"/models/{ALICES_VISIBLE['model']}")
    dataset = get(f"/datasets/{hidden.dataset}")
    return {
        "jobs": sorted(
            (job["id"], job["name"], job["status"]) for job in get("/jobs?limit=500")["items"]
        ),
        "schedules": sorted(
            (item["id"], item["paused"], item["notebook_path"])
            for item in get("/job-schedules?limit=500")["items"]
        ),
        "datasets": sorted(
            (item["name"], item["owner"], item["private"])
            for item in get("/datasets?limit=500")["items"]
            if item["owner"] == "alice"
        ),
        "private dataset": (dataset["owner"], dataset["private"], dataset["complete"]),
        "model": (model["owner"], get(f"/models/{model['name']}/versions/production")["version"]),
        "version 1": get(f"/models/{model['name']}/versions/1")["user"],
        "resources": get(f"/resources/{ALICES_VISIBLE['notebook']}")["owner"],
    }


def as_bob_directly(
    server: LiveServer, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """Bob's request, answered as (status, parsed body or None)."""
    request = urllib.request.Request(
        server.api_url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {BOB}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            code, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        code, raw = err.code, err.read()
    return code, json.loads(raw) if raw else None


def fuzz_as_each(
    server: LiveServer, hidden: AlicesHidden, profile: str, max_examples: int | None
) -> list[FuzzResult]:
    """The run as bob, then without credentials and with a wrong token."""
    bob, refusals = PROFILES[profile], REFUSALS[profile]
    if max_examples:
        bob = Profile(max_examples, bob.phases, bob.timeout)
    results = [run_schemathesis(server, bob, caller=as_bob(hidden))]
    for token in (None, WRONG_TOKEN):
        results.append(run_schemathesis(server, refusals, caller=without_credentials(token)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="long")
    parser.add_argument("--max-examples", type=int, help="per operation, as bob")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labrig-fuzz-users-") as tmp:
        server = LiveServer(Path(tmp), users=USERS)
        with server.running():
            hidden = seed_alice(server)
            before = alices_objects(server, hidden)
            results = fuzz_as_each(server, hidden, args.profile, args.max_examples)
            changed = alices_objects(server, hidden) != before
        errors = server_errors_logged(server)
    for result, who in zip(results, ("bob", "no credentials", "a wrong token"), strict=True):
        print(result.output)
        print(f"as {who}: {result.summary()}")
    print("\n".join(errors) or "server log: no tracebacks, no 5xx")
    print("alice's objects: CHANGED by the run" if changed else "alice's objects: unchanged")
    failed = any(result.exit_code for result in results)
    return 1 if failed or errors or changed else 0


if __name__ == "__main__":
    sys.exit(main())
