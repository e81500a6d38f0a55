"""examples/kubernetes/rbac.yaml is exactly what labrig's job backend needs: with only its
job roles' permissions a job is queued, run, followed, logged, retried, cancelled and deleted on
each training API, and every rule in them is used."""

from __future__ import annotations

import time
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s.rig import IMAGE, KubeRig

from labrig.jobs.service import JobService
from labrig.services import Services

EXAMPLES = Path(__file__).parents[3] / "examples" / "kubernetes"
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
RESOURCES = {
    "kubeflow.org": ("pytorchjobs",),
    "trainer.kubeflow.org": ("trainjobs",),
    "kueue.x-k8s.io": ("workloads", "localqueues", "clusterqueues"),
    "": ("pods", "pods/log", "configmaps", "secrets", "services", "events", "nodes", "namespaces"),
}


#: The example's roles that the job backend uses (labrig-kernels is the kernel backend's).
JOB_ROLES = ("labrig-jobs", "labrig-node-reader")


def granted(roles: tuple[str, ...] = JOB_ROLES) -> set[tuple[str, str, str]]:
    """(verb, resource, group) of every rule the example's ``roles`` (Role or ClusterRole)
    grant; the jobs' by default (the datasets' and kernels' Roles have their own tests)."""
    rules = [
        rule
        for doc in yaml.safe_load_all((EXAMPLES / "rbac.yaml").read_text())
        if doc["kind"] in ("Role", "ClusterRole") and doc["metadata"]["name"] in roles
        for rule in doc["rules"]
    ]
    return {
        (verb, resource, group)
        for rule in rules
        for group, resource, verb in product(rule["apiGroups"], rule["resources"], rule["verbs"])
    }


@pytest.mark.parametrize("job_api", ["pytorchjob", "trainjob"])
def test_the_example_role_is_all_labrig_uses_and_labrig_uses_all_of_it(
    services: Services,
    root: Path,
    labrig_env: Path,
    kube: KubeRig,
    notebook: Any,
    wait: Any,
    job_api: str,
) -> None:
    allowed = granted()
    for group, resources in RESOURCES.items():
        for verb, resource in product(VERBS, resources):
            if (verb, resource, group) not in allowed:
                kube.emu.deny(verb, resource, group)
    kube.cluster.add_queue(quota={"cpu": "8", "memory": "32Gi"})
    if job_api == "trainjob":
        kube.cluster.add_runtime(image=IMAGE)
    backend = kube.backend(job_api=job_api, queue_name="ml-queue")
    jobs = JobService(services.db, labrig_env, root, backend=backend)
    backend.start()
    try:
        notebook("hello.ipynb", "print('hello from the cluster')")
        notebook("sleep.ipynb", "import time\ntime.sleep(300)")
        done = jobs.submit({"notebook_path": "hello.ipynb"})
        assert wait(jobs, done["id"], ("SUCCEEDED", "FAILED"), 90)["status"] == "SUCCEEDED"
        slow = jobs.submit({"notebook_path": "sleep.ipynb"})
        deadline = time.monotonic() + 60
        while jobs.get(slow["id"])["status"] != "RUNNING":
            assert time.monotonic() < deadline, jobs.get(slow["id"])
            jobs.tick()
            time.sleep(0.2)
        assert "time.sleep" not in jobs.logs(slow["id"], 0)["text"]  # the live pod log
        # A launch retried after its answer was lost finds what it created, creates nothing.
        again = backend.launch(jobs._launch_request(jobs._row(slow["id"]), {}))
        assert again["uid"] == jobs._row(slow["id"]).handle["uid"]
        jobs.cancel(slow["id"])
        jobs.delete(done["id"])
        no_gpu = jobs.submit({"notebook_path": "hello.ipynb", "gpus": 1})  # reads the nodes
        assert no_gpu["reason"].startswith("could not start: no node in the cluster offers")
        refused = [r for r in kube.emu.requests if r.status == 403]
        assert refused == [], refused
        resource = f"{job_api}s"
        used = {
            (r.verb, f"{r.resource}/{r.subresource}" if r.subresource else r.resource, r.group)
            for r in kube.emu.requests
        }
        other_api = "trainjobs" if resource == "pytorchjobs" else "pytorchjobs"
        unused = {rule for rule in allowed if rule not in used and rule[1] != other_api}
        assert unused == set(), f"granted but never used: {sorted(unused)}"
    finally:
        backend.stop()
