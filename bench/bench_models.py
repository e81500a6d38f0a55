"""Model registry benchmarks, each a ratio against a peer measured in the same run.

    .venv/bin/python bench/bench_models.py [--size-mib 1024] [--repeat 5] [--procs 16]
        [--per-proc 10] [--databases sqlite,postgresql] [--versions 100000]
        [--mlflow-python /path/to/venv-with-mlflow/bin/python]

1. register a new 1 GiB file into the local store vs `cp` of it (same disk) and vs sha256 alone;
2. re-register the identical file vs hashing it;
3. N fresh processes x M versions of one model at once, labrig and MLflow side by side on each
   database (``models_concurrency.py``): wall time from the first start to the last exit,
   consecutive numbers, errors;
4. one page of 50 versions from a model with 100,000 versions (service time, i.e. the server
   side of GET /models/{name}/versions without HTTP);
5. MLflow registering the 1 GiB file (SQLite backend, local artifacts: log_artifact +
   create_model_version), when an interpreter with mlflow is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models_concurrency import bench_fresh_concurrency

from labrig.app import LabrigApp
from labrig.services import build_services
from labrig.store import PageRequest

CHUNK = 8 * 1024 * 1024


def make_file(path: Path, size: int) -> None:
    block = os.urandom(CHUNK)
    with path.open("wb") as handle:
        written = 0
        while written < size:
            n = min(CHUNK, size - written)
            handle.write(block[:n] if written else os.urandom(n))
            written += n
            block = hashlib.sha256(block).digest() * (CHUNK // 32)  # varied, cheap
    os.sync()


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sha256_file(path: Path) -> str:
    """The peer for hashing: the standard library's own file hashing loop."""
    with path.open("rb", buffering=0) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def services_at(root: Path) -> Any:
    return build_services(LabrigApp(data_dir=str(root)))


def bench_single_file(work: Path, size: int, repeat: int) -> dict[str, float]:
    """cp, sha256, register (new blob) and re-register, interleaved round by round so that a
    load spike on a shared machine hits all four alike; the best round of each counts."""
    src = work / "model.bin"
    make_file(src, size)
    sha256_file(src)  # warm the page cache, as a checkpoint just written would be
    times: dict[str, list[float]] = {"cp": [], "sha256": [], "register": [], "reregister": []}

    def cp() -> None:
        dst = work / "cp-copy.bin"
        subprocess.run(["cp", str(src), str(dst)], check=True)
        os.sync()
        dst.unlink()

    for i in range(repeat):
        times["cp"].append(timed(cp))
        times["sha256"].append(timed(lambda: sha256_file(src)))
        root = work / f"state-{i}"
        services = services_at(root)

        def register(reg: Any = services.models) -> None:
            reg.register("big", src)
            os.sync()

        times["register"].append(timed(register))
        times["reregister"].append(timed(register))
        services.close()
        shutil.rmtree(root)
    best_of = {key: min(values) for key, values in times.items()}
    return {
        "size_gib": size / 2**30,
        "rounds": repeat,
        "cp_s": best_of["cp"],
        "sha256_s": best_of["sha256"],
        "register_s": best_of["register"],
        "reregister_s": best_of["reregister"],
        "register_vs_cp_throughput": best_of["cp"] / best_of["register"],
        "sha256_vs_cp_throughput": best_of["cp"] / best_of["sha256"],
        "register_vs_sha256_time": best_of["register"] / best_of["sha256"],
        "reregister_vs_sha256_time": best_of["reregister"] / best_of["sha256"],
    }


def bench_listing(work: Path, count: int) -> dict[str, Any]:
    from labrig.models.tables import ModelCounter, ModelVersion, ModelVersionMetric

    services = services_at(work / "state-listing")
    reg = services.models
    reg.create({"name": "many"})
    now = datetime.now(UTC)
    rows = [
        {
            "model_name": "many",
            "version": v,
            "created_at": now,
            "user": "bench",
            "note": "",
            "kind": "file",
            "metrics": {"acc": (v * 7919 % 10007) / 10007},
            "params": {},
            "tags": {},
            "lineage": {},
            "size": 1,
            "file_count": 0,
            "idempotency_key": None,
        }
        for v in range(1, count + 1)
    ]
    with services.db.engine.begin() as conn:
        conn.execute(ModelVersion.__table__.insert(), rows)
        ids = dict(
            conn.execute(
                ModelVersion.__table__.select().with_only_columns(
                    ModelVersion.version, ModelVersion.id
                )
            ).all()
        )
        conn.execute(
            ModelVersionMetric.__table__.insert(),
            [
                {
                    "version_id": ids[r["version"]],
                    "key": "acc",
                    "model_name": "many",
                    "version": r["version"],
                    "value": r["metrics"]["acc"],
                }
                for r in rows
            ],
        )
        conn.execute(
            ModelCounter.__table__.insert(), {"model_name": "many", "next_version": count + 1}
        )
    first = reg.list_versions("many", PageRequest(50))
    deep_token = first.next_page_token
    for _ in range(200):  # walk 10,000 versions in
        deep_token = reg.list_versions("many", PageRequest(50, deep_token)).next_page_token

    def sample(fn: Any) -> float:
        fn()
        times = [timed(fn) for _ in range(30)]
        return statistics.median(times) * 1000

    result = {
        "versions": count,
        "first_page_ms": sample(lambda: reg.list_versions("many", PageRequest(50))),
        "deep_page_ms": sample(lambda: reg.list_versions("many", PageRequest(50, deep_token))),
        "by_metric_page_ms": sample(
            lambda: reg.list_versions("many", PageRequest(50), order_by="metric:acc")
        ),
    }
    services.close()
    return result


MLFLOW_SCRIPT = r"""
import json, os, sys, time
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
work, src = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(f"sqlite:///{work}/mlflow.db")
client = MlflowClient()
try:
    client.create_registered_model("big")
except MlflowException:  # the model exists already (RESOURCE_ALREADY_EXISTS)
    pass
start = time.perf_counter()
with mlflow.start_run() as run:
    mlflow.log_artifact(src, artifact_path="model")
    client.create_model_version("big", f"{run.info.artifact_uri}/model", run.info.run_id)
os.sync()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def bench_mlflow_single(python: str, work: Path, src: Path, repeat: int) -> dict[str, Any]:
    """MLflow registering the same 1 GiB file: log_artifact + create_model_version, + sync."""
    mwork = work / "mlflow"
    mwork.mkdir()
    env = {**os.environ, "MLFLOW_ARTIFACTS_DESTINATION": str(mwork / "artifacts")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{mwork}/mlflow.db"
    script = mwork / "run.py"
    script.write_text(MLFLOW_SCRIPT)
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [python, str(script), str(mwork), str(src)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=mwork,
        ).stdout
        times.append(json.loads(out.strip().splitlines()[-1])["seconds"])
        os.sync()
    return {"register_s": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--per-proc", type=int, default=10)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--mlflow-python", default=None)
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="For the concurrency part: sqlite and/or postgresql (one server for both tools, "
        "started by --postgres-helper).",
    )
    parser.add_argument(
        "--postgres-helper",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "tests" / "postgres_server.py",
        help="The module whose PostgresServer starts the server (the test suite's).",
    )
    parser.add_argument("--dir", default=None, help="Scratch directory (same disk as the store).")
    parser.add_argument(
        "--parts", default="single,concurrency,listing,mlflow", help="Comma-separated subset."
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labrig-bench-models-", dir=args.dir))
    results: dict[str, Any] = {}
    parts = set(args.parts.split(","))
    try:
        src = work / "model.bin"
        if "single" in parts:
            results["single_file"] = bench_single_file(work, args.size_mib * 2**20, args.repeat)
            print(json.dumps({"single_file": results["single_file"]}), flush=True)
        if "concurrency" in parts:
            results["concurrency"] = bench_fresh_concurrency(
                work,
                args.databases.split(","),
                args.procs,
                args.per_proc,
                args.repeat,
                args.mlflow_python,
                args.postgres_helper,
            )
            print(json.dumps({"concurrency": results["concurrency"]}), flush=True)
        if "listing" in parts:
            results["listing"] = bench_listing(work, args.versions)
            print(json.dumps({"listing": results["listing"]}), flush=True)
        if "mlflow" in parts and args.mlflow_python:
            if not src.exists():
                make_file(src, args.size_mib * 2**20)
            m = bench_mlflow_single(args.mlflow_python, work, src, args.repeat)
            if "single_file" in results:
                m["labrig_register_speedup_vs_mlflow"] = (
                    m["register_s"] / results["single_file"]["register_s"]
                )
            results["mlflow"] = m
            print(json.dumps({"mlflow": m}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
