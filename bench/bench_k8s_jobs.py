"""Kubernetes job backend at scale: 1,000 running labrig jobs in the API emulator.

    .venv/bin/python bench/bench_k8s_jobs.py [--jobs 1000] [--passes 5]

Counts the requests the API server receives while the server follows the jobs: the first pass
lists each kind once and opens one watch per kind, every later pass reads the watched cache and
sends nothing, whatever the number of jobs. Without a watch (the CLI) a pass is one list per
kind. Also times a reconcile pass and the jobs list (a page of 50, first and a deep page).
The emulator and the jobs are those of the test suite (tests/k8s); no pod runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from k8s.emulator import ApiEmulator  # noqa: E402
from k8s.seed import seed_running_jobs  # noqa: E402

from labrig.jobs.service import JobService  # noqa: E402
from labrig.k8s.jobs import KubernetesJobBackend  # noqa: E402
from labrig.store import Database, PageRequest  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labrig-bench-k8s-") as tmp:
        work = Path(tmp)
        emu = ApiEmulator(namespaces=("default", "ml"))
        emu.start()
        try:
            db = Database(f"sqlite:///{work / 'labrig.db'}")
            db.upgrade()
            settings = {
                "kubeconfig": str(emu.kubeconfig(work / "kubeconfig", namespace="ml")),
                "namespace": "ml",
                "image": "labrig-rank:bench",
                "storage_url": f"file://{work}/storage",
                "queue_name": "ml-queue",
            }
            backend = KubernetesJobBackend(**settings)
            jobs = JobService(db, work / "data", work / "root", backend=backend)
            started = time.perf_counter()
            seed_running_jobs(emu, db, backend, args.jobs)
            print(f"seeded {args.jobs} running jobs in {time.perf_counter() - started:.1f} s")

            # Without a watch (the CLI): every pass lists each kind once.
            emu.clear_requests()
            unwatched = []
            for _ in range(args.passes):
                tick = time.perf_counter()
                jobs.reconcile()
                unwatched.append(time.perf_counter() - tick)
            print(
                f"no watch: {emu.count(watch=False) / args.passes:.0f} list requests per pass, "
                f"{emu.count(watch=True)} watches; pass median {ms(statistics.median(unwatched))}"
            )

            # The server: one list and one watch per kind, then the cache.
            emu.clear_requests()
            backend.start()
            while not all(i.synced.is_set() for i in backend.informers.values()):
                time.sleep(0.01)
            watched = []
            for _ in range(args.passes):
                tick = time.perf_counter()
                jobs.reconcile()
                watched.append(time.perf_counter() - tick)
            lists, watches = emu.count(watch=False), emu.count(watch=True)
            print(
                f"watching: {lists} list requests and {watches} watches in all for "
                f"{args.passes} passes over {args.jobs} jobs; pass median "
                f"{ms(statistics.median(watched))}"
            )
            backend.stop()

            page = PageRequest(limit=50)
            firsts, deeps = [], []
            for _ in range(20):
                tick = time.perf_counter()
                first = jobs.list(page)
                firsts.append(time.perf_counter() - tick)
                token = first.next_page_token
                for _ in range(min(10, args.jobs // 50 - 2)):
                    token = jobs.list(PageRequest(limit=50, page_token=token)).next_page_token
                tick = time.perf_counter()
                jobs.list(PageRequest(limit=50, page_token=token))
                deeps.append(time.perf_counter() - tick)
            print(
                f"jobs list, page of 50 of {args.jobs}: first {ms(statistics.median(firsts))}, "
                f"page 12 {ms(statistics.median(deeps))} (medians of 20)"
            )
            db.dispose()
        finally:
            emu.stop()


if __name__ == "__main__":
    main()
