"""What only a cluster can do to a job, through the real client against the emulator and the
fake controllers: Kueue holding it, no node fitting it, an image that cannot be pulled, an
eviction, a cancel that deletes it, a watch that expires, a server restarted mid-job, a
TrainJob, and every way the cluster can refuse (each a clear reason, nothing created twice)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.rig import IMAGE, KubeRig
from k8s.seed import seed_running_jobs

from labrig.jobs.capacity import HostCapacity
from labrig.jobs.service import JobService
from labrig.k8s.client import CONFIGMAP, POD, PYTORCHJOB
from labrig.services import Services
from labrig.store import PageRequest

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
Make = Callable[..., JobService]


@pytest.fixture
def on_cluster(services: Services, root: Path, labrig_env: Path, kube: KubeRig) -> Iterator[Make]:
    """``on_cluster(**settings)``: a job service on the test cluster with those backend
    settings; what it leaves running is cancelled at the end."""
    made: list[JobService] = []

    def make(**settings: Any) -> JobService:
        service = JobService(
            services.db,
            labrig_env,
            root,
            capacity=HostCapacity(labrig_env / "cap", cpus=4),
            backend=kube.backend(**settings),
        )
        made.append(service)
        return service

    yield make
    for service in made:
        service.backend.stop()
        for job in service.list(PageRequest(limit=500)).items:
            if job["status"] not in FINAL and job["backend"] == service.backend.identity:
                service.cancel(job["id"])


def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def state(jobs: JobService, job_id: str) -> tuple[str, str | None]:
    jobs.tick()
    job = jobs.get(job_id)
    return job["status"], job["reason"]


def objects(kube: KubeRig, kind: Any) -> list[dict[str, Any]]:
    return list(kube.emu.store.select(kind.title))


def test_kueue_holds_a_job_over_quota_with_its_message_and_admits_it_later(
    on_cluster: Make, kube: KubeRig, notebook: Any, wait: Any
) -> None:
    kube.cluster.add_queue(quota={"cpu": "2", "memory": "8Gi"})
    jobs = on_cluster(queue_name="ml-queue")
    notebook("work.ipynb", "import time\ntime.sleep(3)")
    first = jobs.submit({"notebook_path": "work.ipynb", "cpus": 2})
    second = jobs.submit({"notebook_path": "work.ipynb", "cpus": 2})
    assert first["status"] == second["status"] == "QUEUED"  # handed to Kueue at once
    until(lambda: state(jobs, first["id"])[0] == "RUNNING")
    status, reason = until(lambda: (s := state(jobs, second["id"]))[1] and "quota" in s[1] and s)
    assert status == "QUEUED"
    assert reason == (
        "waiting in queue ml-queue: couldn't assign flavors to pod set master: insufficient "
        "unused quota for cpu in flavor default, 2 more needed"
    )
    assert wait(jobs, second["id"], FINAL, timeout=90)["status"] == "SUCCEEDED"
    assert jobs.get(first["id"])["status"] == "SUCCEEDED"


def test_no_node_fitting_queues_the_job_with_the_schedulers_message(
    on_cluster: Make, notebook: Any
) -> None:
    jobs = on_cluster()
    notebook("big.ipynb", "print(1)")
    job = jobs.submit({"notebook_path": "big.ipynb", "cpus": 6})
    status, reason = until(lambda: (s := state(jobs, job["id"]))[1] and s)
    assert status == "QUEUED"
    assert reason.startswith("waiting for a node: 0/2 nodes are available: 2 Insufficient cpu.")


def test_a_gpu_resource_no_node_offers_fails_the_job_at_once(
    on_cluster: Make, kube: KubeRig, notebook: Any
) -> None:
    jobs = on_cluster(gpu_resource="example.com/gpu")
    notebook("gpu.ipynb", "print(1)")
    job = jobs.submit({"notebook_path": "gpu.ipynb", "gpus": 1})
    assert (job["status"], job["reason"]) == (
        "FAILED",
        "could not start: no node in the cluster offers example.com/gpu "
        "(KubernetesJobBackend.gpu_resource); the nodes offer no extended resources",
    )
    assert objects(kube, PYTORCHJOB) == []


def test_an_image_that_cannot_be_pulled_is_named_then_given_up(
    on_cluster: Make, kube: KubeRig, notebook: Any, wait: Any
) -> None:
    kube.cluster.unpullable_images.add("registry.example.com/ml/missing:1")
    jobs = on_cluster(image="registry.example.com/ml/missing:1", start_timeout=4)
    notebook("x.ipynb", "print(1)")
    job = jobs.submit({"notebook_path": "x.ipynb"})
    status, reason = until(lambda: (s := state(jobs, job["id"]))[1] and "image" in s[1] and s)
    assert status == "STARTING"
    assert reason.startswith("rank 0: image registry.example.com/ml/missing:1 cannot be started (")
    done = wait(jobs, job["id"], FINAL, timeout=30)
    assert done["status"] == "FAILED"
    assert done["reason"].endswith("(gave up after 4 s)")
    until(lambda: objects(kube, PYTORCHJOB) == [])


def test_an_evicted_rank_fails_the_job_naming_it(
    on_cluster: Make, kube: KubeRig, notebook: Any, wait: Any
) -> None:
    jobs = on_cluster()
    notebook("slow.ipynb", "import time\ntime.sleep(60)")
    job = jobs.submit({"notebook_path": "slow.ipynb", "nodes": 2})
    until(lambda: state(jobs, job["id"])[0] == "RUNNING")
    pod = f"labrig-{job['id']}-worker-0"
    kube.cluster.evict(pod, "ml", message="The node was low on resource: memory.")
    done = wait(jobs, job["id"], FINAL, timeout=60)
    assert (done["status"], done["reason"]) == (
        "FAILED",
        "rank 1 evicted: The node was low on resource: memory.",
    )


def test_cancel_deletes_the_job_and_stops_every_pod(
    on_cluster: Make, kube: KubeRig, notebook: Any
) -> None:
    jobs = on_cluster()
    notebook("sleep.ipynb", "import time\ntime.sleep(300)")
    job = jobs.submit({"notebook_path": "sleep.ipynb", "procs_per_node": 2, "nodes": 2})
    until(lambda: state(jobs, job["id"])[0] == "RUNNING")
    processes = dict(kube.cluster.pod_processes)
    assert len(processes) == 2
    assert jobs.cancel(job["id"])["status"] == "CANCELLED"
    deletes = [r for r in kube.emu.requests if r.method == "DELETE" and r.resource == "pytorchjobs"]
    assert [r.status for r in deletes] == [200]
    until(lambda: objects(kube, PYTORCHJOB) == [] and objects(kube, POD) == [])
    until(lambda: all(p.poll() is not None for p in processes.values()), 15)
    assert objects(kube, CONFIGMAP) == []


def test_a_server_down_while_the_job_ends_finds_it_ended_on_restart(
    on_cluster: Make, kube: KubeRig, services: Services, notebook: Any, wait: Any
) -> None:
    first = on_cluster()
    first.model_outputs = services.models
    first.backend.start()
    notebook(
        "slow.ipynb",
        "import time, labrig.models\n"
        "for i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(1)\n"
        "open('w.bin', 'wb').write(b'w')\n"
        "labrig.models.register('made-while-away', 'w.bin')",
    )
    job = first.submit({"notebook_path": "slow.ipynb"})
    until(lambda: state(first, job["id"])[0] == "RUNNING")
    first.backend.stop()  # the server is culled; the job runs on and ends meanwhile
    until(
        lambda: any(
            c["type"] == "Succeeded" and c["status"] == "True"
            for o in objects(kube, PYTORCHJOB)
            for c in (o.get("status") or {}).get("conditions", [])
        )
    )
    second = on_cluster()  # a new server finds the job by its label
    second.model_outputs = services.models
    second.backend.start()
    done = wait(second, job["id"], FINAL, timeout=60)
    assert done["status"] == "SUCCEEDED"
    assert done["started_at"]
    assert done["finished_at"]
    assert "tick 2" in second.logs(job["id"], 0)["text"]
    second.tick()
    assert services.models.get_ref("made-while-away")["lineage"]["job_id"] == job["id"]


def test_a_watch_resumed_after_its_history_is_gone_lists_again(kube: KubeRig) -> None:
    kube.cluster.stop()
    backend = kube.backend()
    informer = backend.informers["pods"]
    informer.watch_seconds = 1
    informer.start()
    try:
        until(informer.synced.is_set)
        lists = kube.emu.count(method="GET", resource="pods", watch=False)
        kube.emu.compact()  # the next resume asks for history the server no longer has: 410
        until(lambda: kube.emu.count(method="GET", resource="pods", watch=False) > lists, 15)
        gone = [r for r in kube.emu.requests if r.watch and r.resource == "pods"]
        assert len(gone) >= 2
        until(informer.synced.is_set)
        assert informer.items() == []
    finally:
        informer.stop()


def test_a_trainjob_runs_the_notebook_like_a_pytorchjob(
    on_cluster: Make, kube: KubeRig, notebook: Any, wait: Any
) -> None:
    kube.cluster.add_runtime(image=IMAGE)
    jobs = on_cluster(job_api="trainjob")
    notebook(
        "ddp.ipynb",
        "import os, torch.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "print('rank', dist.get_rank(), 'of', dist.get_world_size())\n"
        "dist.destroy_process_group()",
    )
    job = jobs.submit({"notebook_path": "ddp.ipynb", "nodes": 2})
    done = wait(jobs, job["id"], FINAL, timeout=120)
    assert done["status"] == "SUCCEEDED", (done["reason"], jobs.logs(job["id"], 1)["text"])
    assert "rank 1 of 2" in jobs.logs(job["id"], 1)["text"]


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        (
            lambda kube: kube.emu.uninstall("kubeflow.org", "v1", "pytorchjobs"),
            "FAILED",
            "could not start: PyTorchJob (kubeflow.org/v1) is not installed in this cluster",
        ),
        (
            lambda kube: kube.emu.deny("create", "pytorchjobs", "kubeflow.org"),
            "FAILED",
            "could not start: Kubernetes RBAC forbids labrig to create pytorchjobs.kubeflow.org "
            "in namespace ml",
        ),
        (
            lambda kube: kube.emu.expire_tokens(),
            "QUEUED",
            "waiting: the Kubernetes API server at http://127.0.0.1",
        ),
        (
            lambda kube: kube.emu.reject_create(
                "pytorchjobs", "exceeded quota: team-quota, requested: count/pytorchjobs=1"
            ),
            "QUEUED",
            "waiting: the namespace's ResourceQuota refused the PyTorchJob",
        ),
    ],
    ids=["crd-missing", "rbac", "expired-credentials", "quota"],
)
def test_each_way_the_cluster_refuses_is_a_clear_reason(
    on_cluster: Make,
    kube: KubeRig,
    notebook: Any,
    wait: Any,
    fault: Callable[[KubeRig], Any],
    status: str,
    reason: str,
) -> None:
    jobs = on_cluster()
    notebook("t.ipynb", "print('ran')")
    fault(kube)
    job = jobs.submit({"notebook_path": "t.ipynb"})
    jobs.tick()
    after = jobs.get(job["id"])
    assert after["status"] == status, after["reason"]
    assert (after["reason"] or "").startswith(reason), after["reason"]
    assert objects(kube, PYTORCHJOB) == []
    if status == "QUEUED":  # the cause goes away: labrig tries again and creates it once
        kube.emu.reset_faults()
        if "expired" in reason or "127.0.0.1" in reason:
            return  # the old token stays expired: renewing the kubeconfig is the user's part
        assert wait(jobs, job["id"], FINAL, timeout=90)["status"] == "SUCCEEDED"
        assert len(objects(kube, PYTORCHJOB)) == 1
        creates = [
            r for r in kube.emu.requests if r.method == "POST" and r.resource == "pytorchjobs"
        ]
        statuses = [r.status for r in creates]
        assert statuses[-1] == 201  # created once, after every refused try
        assert set(statuses[:-1]) == {403}


def test_a_namespace_that_does_not_exist_and_an_unreachable_server(
    on_cluster: Make, kube: KubeRig, notebook: Any, tmp_path: Path
) -> None:
    notebook("t.ipynb", "print(1)")
    missing = on_cluster(namespace="nope")
    job = missing.submit({"notebook_path": "t.ipynb"})
    assert (job["status"], job["reason"]) == (
        "FAILED",
        "could not start: namespace nope does not exist in the cluster; set "
        "KubernetesJobBackend.namespace to an existing one",
    )
    config = (tmp_path / "kubeconfig").read_text().replace(kube.emu.url, "http://127.0.0.1:9")
    (tmp_path / "gone.yaml").write_text(config)
    away = on_cluster(kubeconfig=str(tmp_path / "gone.yaml"))
    queued = away.submit({"notebook_path": "t.ipynb"})
    assert queued["status"] == "QUEUED"
    assert queued["reason"].startswith(
        "waiting: the Kubernetes API server at http://127.0.0.1:9 cannot be reached"
    )


def test_a_reconcile_pass_over_many_jobs_lists_each_kind_once_then_only_watches(
    services: Services, root: Path, labrig_env: Path, kube: KubeRig
) -> None:
    kube.cluster.stop()  # nothing runs the seeded pods: only labrig's requests are counted
    backend = kube.backend()
    jobs = JobService(services.db, labrig_env, root, backend=backend)
    seeded = seed_running_jobs(kube.emu, services.db, backend, 300)
    kube.emu.clear_requests()
    backend.start()
    try:
        until(lambda: all(i.synced.is_set() for i in backend.informers.values()))
        for _ in range(3):
            jobs.reconcile()
        lists = [r for r in kube.emu.requests if not r.watch]
        watches = [r for r in kube.emu.requests if r.watch]
        assert sorted(r.resource for r in lists) == ["pods", "pytorchjobs"]
        assert sorted({r.resource for r in watches}) == ["pods", "pytorchjobs"]
        assert jobs.get(seeded[-1])["status"] == "RUNNING"
    finally:
        backend.stop()
