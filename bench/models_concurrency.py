"""16 fresh processes x 10 registrations of one model, labrig vs MLflow, per database.

Each process is a new interpreter (``python -c ...``) started by this script, and the clock runs
from the first start to the last exit: imports, opening the database and the registrations all
count, as they do for 16 job ranks or scripts that each register their checkpoints. The two
tools take turns (which goes first alternates between rounds); the figure per database is the
median of the rounds, and the ratio is labrig's median over MLflow's.

labrig registers real files (64 KiB each, distinct: hashed, copied and flushed into the store,
leased, committed, with lineage); MLflow creates bare model versions pointing at a URI
(``create_model_version`` with no artifact upload), which is less work than labrig's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

FILE_SIZE = 64 * 1024

LABRIG_WORKER = """
import json, sys, time
first_done = None
import labrig.models as models
done, errors = [], []
for path in sys.argv[1:]:
    try:
        done.append(models.register("concurrent", path)["version"])
    except Exception as err:
        errors.append(repr(err)[:200])
    first_done = first_done or time.time()
print(json.dumps({"versions": done, "errors": errors, "first_done": first_done}))
"""

MLFLOW_WORKER = """
import json, sys, time
from mlflow import MlflowClient
uri, work, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
first_done = None
done, errors = [], []
for i in range(count):
    try:
        v = client.create_model_version("concurrent", f"file://{work}/w{worker}-{i}", None)
        done.append(int(v.version))
    except Exception as err:
        errors.append(type(err).__name__ + ": " + str(err)[:200])
    first_done = first_done or time.time()
print(json.dumps({"versions": done, "errors": errors, "first_done": first_done}))
"""

MLFLOW_SETUP = """
import sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
client.create_registered_model("concurrent")
"""


def _run_children(commands: list[list[str]], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Start every command at once; wall time from the first start to the last exit."""
    start = time.perf_counter()
    started_at = time.time()
    children = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
        )
        for command in commands
    ]
    versions: list[int] = []
    errors: list[str] = []
    first_done: list[float] = []
    for child in children:
        out, err = child.communicate(timeout=900)
        if child.returncode != 0:
            errors.append(err.strip().splitlines()[-1] if err.strip() else "crashed")
            continue
        result = json.loads(out.strip().splitlines()[-1])
        versions += result["versions"]
        errors += result["errors"]
        if result["first_done"]:
            first_done.append(result["first_done"] - started_at)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "registered": len(versions),
        "versions": versions,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        # when a process had its first version: start-up plus one registration, under load
        "first_version_median_s": statistics.median(first_done) if first_done else None,
    }


def _make_files(work: Path, procs: int, per_proc: int) -> list[list[str]]:
    files = []
    for w in range(procs):
        mine = []
        for i in range(per_proc):
            path = work / f"w{w}-{i}.bin"
            path.write_bytes(os.urandom(FILE_SIZE))
            mine.append(str(path))
        files.append(mine)
    return files


def labrig_round(work: Path, database_url: str | None, procs: int, per_proc: int) -> dict[str, Any]:
    """One round of labrig: a new state directory (and database), migrated before the clock."""
    from labrig.app import LabrigApp
    from labrig.services import build_services

    root = work / "labrig-state"
    settings: dict[str, Any] = {"data_dir": str(root)}
    env = {**os.environ, "LABRIG_DATA_DIR": str(root)}
    env.pop("LABRIG_DATABASE_URL", None)
    if database_url is not None:
        settings["database_url"] = database_url
        env["LABRIG_DATABASE_URL"] = database_url
    build_services(LabrigApp(**settings)).db.dispose()  # migrate once, before the clock
    files = _make_files(work, procs, per_proc)
    commands = [[sys.executable, "-c", LABRIG_WORKER, *mine] for mine in files]
    return _run_children(commands, env, work)


def mlflow_round(
    python: str, work: Path, tracking_uri: str, procs: int, per_proc: int
) -> dict[str, Any]:
    """One round of MLflow on a new database, migrated and the model created before the clock."""
    env = {**os.environ, "MLFLOW_ARTIFACTS_DESTINATION": str(work / "mlflow-artifacts")}
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run(
        [python, "-c", MLFLOW_SETUP, tracking_uri],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    commands = [
        [python, "-c", MLFLOW_WORKER, tracking_uri, str(work), str(w), str(per_proc)]
        for w in range(procs)
    ]
    return _run_children(commands, env, work)


def _verdict(result: dict[str, Any], total: int) -> dict[str, Any]:
    versions = result.pop("versions")
    result["consecutive_and_distinct"] = sorted(versions) == list(range(1, total + 1))
    return result


def _sqlite(work: Path, tool: str) -> str | None:
    return f"sqlite:///{work}/mlflow.db" if tool == "mlflow" else None


def _load_postgres_helper(path: Path) -> Any:
    """The test suite's PostgreSQL starter (``tests/postgres_server.py``), loaded by path."""
    spec = importlib.util.spec_from_file_location("postgres_server", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise SystemExit(
            f"--databases postgresql needs {path} (a PostgresServer); "
            "name it with --postgres-helper, or use --databases sqlite"
        )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def _postgres(helper: Path) -> Iterator[Callable[[Path, str], str]]:
    """One PostgreSQL server for both tools; a new database for every round."""
    with _load_postgres_helper(helper).PostgresServer() as server:

        def database(_work: Path, tool: str) -> str:
            url: str = server.new_database()
            if tool == "mlflow":  # psycopg2, which MLflow's docs install (pip psycopg2-binary)
                return url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)
            return url

        yield database


def bench_fresh_concurrency(
    work: Path,
    databases: list[str],
    procs: int,
    per_proc: int,
    repeat: int,
    mlflow_python: str | None,
    postgres_helper: Path,
) -> dict[str, Any]:
    """Both tools on each database, ``repeat`` rounds, alternating which goes first."""
    results: dict[str, Any] = {}
    total = procs * per_proc
    for name in databases:
        server: AbstractContextManager[Callable[[Path, str], str | None]] = (
            _postgres(postgres_helper) if name == "postgresql" else nullcontext(_sqlite)
        )
        rounds: dict[str, list[dict[str, Any]]] = {"labrig": [], "mlflow": []}
        with server as database_for:
            for r in range(repeat):
                tools = ["labrig", "mlflow"] if r % 2 == 0 else ["mlflow", "labrig"]
                for tool in tools:
                    if tool == "mlflow" and mlflow_python is None:
                        continue
                    here = work / f"{name}-{tool}-{r}"
                    here.mkdir()
                    url = database_for(here, tool)
                    if tool == "labrig":
                        result = labrig_round(here, url, procs, per_proc)
                    else:
                        assert mlflow_python is not None
                        assert url is not None
                        result = mlflow_round(mlflow_python, here, url, procs, per_proc)
                    rounds[tool].append(_verdict(result, total))
                    print(json.dumps({name: {tool: rounds[tool][-1]}}), flush=True)
        results[name] = _summary(rounds, procs, per_proc)
    return results


def _summary(rounds: dict[str, list[dict[str, Any]]], procs: int, per_proc: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"processes": procs, "versions_each": per_proc}
    for tool, runs in rounds.items():
        if not runs:
            continue
        summary[tool] = {
            "median_s": statistics.median(r["seconds"] for r in runs),
            "rounds_s": [round(r["seconds"], 2) for r in runs],
            "all_rounds_consecutive_0_errors": all(
                r["consecutive_and_distinct"] and r["errors"] == 0 for r in runs
            ),
            "errors": sum(r["errors"] for r in runs),
            "error_samples": [s for r in runs for s in r["error_samples"]][:3],
            "first_version_median_s": statistics.median(
                r["first_version_median_s"] for r in runs if r["first_version_median_s"]
            ),
        }
    if rounds["labrig"] and rounds["mlflow"]:
        labrig, mlflow = summary["labrig"]["median_s"], summary["mlflow"]["median_s"]
        summary["labrig_over_mlflow"] = labrig / mlflow
    return summary
