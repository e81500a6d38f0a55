"""The server's CPU time per request for each endpoint the panel polls, on a seeded state.

    .venv/bin/python bench/profile_polls.py [--requests 1000] [--rounds 5] [--baseline DIR]
                                            [--jobs 200] [--models 50] [--datasets 20]
                                            [--users 4] [--profile] [--json]

Seeds a fresh state directory as several users would have filled it (``--jobs`` finished jobs,
``--models`` models of three versions with aliases, ``--datasets`` local datasets of 500 files,
half of them warmed, schedules and resource requests), starts a Jupyter server with labrig on
it, and sends ``--requests`` requests to each endpoint the panel polls (``bench/load_api.py``'s
poll set), one at a time, as the server's own user. The figure is the server process's CPU time
(user + system, all threads, from /proc) per request, less what the idle server spends in the
same wall time (its background loops): CPU time, not wall time, since other work on the machine
makes wall times noise.

``--baseline DIR`` runs a second server from another labrig's sources (``git archive <commit>
server_ext kernels dataset_mounts | tar -x -C DIR``) on the same state; the two take turns in
``--rounds`` rounds per endpoint, so a busy spell on the machine costs both alike, and the report
gives the ratio and whether the two answered the same.

``--profile`` runs this labrig's server under cProfile in every thread, timed by each thread's
CPU clock, and prints per endpoint the functions that cost the most CPU-ms per request; the
profiler slows everything several times over, so only the shares mean something in a
``--profile`` run, and the CPU table of such a run is not comparable with a plain run's.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from load_api import POLLED as PANEL_POLLS
from load_api import USAGE, free_port

ROOT = Path(__file__).resolve().parent.parent
API = "labrig/api/v1"
NOTEBOOK = "train.ipynb"

#: What the panel polls (``bench/load_api.py``: every refresh, and the open notebook's usage).
POLLED = {**PANEL_POLLS, **USAGE}


# --- seeding ------------------------------------------------------------------------------------


def seed(root: Path, state: Path, args: argparse.Namespace, me: str) -> None:
    """Fill ``state`` as ``args.users`` users would have; ``me`` (the server's user) owns a
    share of everything, the others the rest."""
    import nbformat

    from labrig import identity
    from labrig.app import LabrigApp
    from labrig.services import build_services

    nbformat.write(nbformat.v4.new_notebook(), root / NOTEBOOK)
    users = [me] + [f"user{i}" for i in range(1, args.users)]
    app = LabrigApp(data_dir=str(state), local_dataset_roots=[str(root)])
    services = build_services(app, str(root))
    try:
        seed_jobs(services, users, args.jobs)
        seed_resource_requests(services, users)
        for index in range(args.models):
            with identity.acting_as(identity.Principal(users[index % len(users)])):
                seed_model(services, root, index)
        for index in range(args.datasets):
            with identity.acting_as(identity.Principal(users[index % len(users)])):
                seed_dataset(services, root, index)
    finally:
        services.close()


def seed_jobs(services: Any, users: list[str], count: int) -> None:
    from labrig.store.tables import Job, JobSchedule

    now = datetime.now(UTC)
    statuses = ["SUCCEEDED", "FAILED", "CANCELLED"]
    parameters = {"lr": 0.001, "epochs": 10, "model": "resnet18"}
    spec: dict[str, Any] = {
        "nodes": 1,
        "procs_per_node": 2,
        "parameters": parameters,
        "cpus": 2,
        "memory": 4 * 2**30,
        "gpus": 0,
        "datasets": ["dataset-00"],
        "env": {},
        "outputs": [{"path": "out/model.pt", "model": "model-00"}],
    }
    with services.db.session() as session:
        session.add_all(
            Job(
                id=f"job-{i:05d}",
                name=f"sweep lr={0.001 * (1 + i % 50):.3f} run {i}",
                notebook_path=f"experiments/train_{i % 7}.ipynb",
                status=statuses[i % 3],
                reason=None if i % 3 == 0 else "cell 4 (loss.backward()): RuntimeError",
                created_at=now - timedelta(minutes=10 * i),
                started_at=now - timedelta(minutes=10 * i - 1),
                finished_at=now - timedelta(minutes=10 * i - 5),
                spec={**spec, "parameters": {**parameters, "lr": 0.001 * (1 + i % 50)}},
                snapshot_sha256=f"{i:064x}",
                output_path=f".labrig/outputs/job-{i:05d}/train.ipynb",
                dataset_versions={"dataset-00": f"{i:064x}"},
                finalized=True,
                owner=owner_of(i, users),
            )
            for i in range(count)
        )
        session.add_all(
            JobSchedule(
                id=f"schedule-{i:03d}",
                name=f"nightly {i}",
                cron=f"{i % 60} 2 * * *",
                notebook_path=f"experiments/train_{i % 7}.ipynb",
                spec=spec,
                snapshot_sha256=f"{i:064x}",
                paused=i % 4 == 0,
                created_at=now - timedelta(days=i),
                last_occurrence=now - timedelta(hours=i),
                owner=users[i % len(users)],
            )
            for i in range(max(4, count // 20))
        )


def owner_of(index: int, users: list[str]) -> str:
    """The server's user owns every other record; the other users share the rest."""
    others = users[1:] or users
    return users[0] if index % 2 == 0 else others[index // 2 % len(others)]


def seed_resource_requests(services: Any, users: list[str]) -> None:
    from labrig.store.tables import ResourceRequest

    with services.db.session() as session:
        session.add_all(
            ResourceRequest(
                notebook_path=f"experiments/notebook_{i:02d}.ipynb",
                cpus=1.0 + i % 4,
                memory=(1 + i % 8) * 2**30,
                gpus=0,
                disk=2**30 if i % 3 == 0 else None,
                owner=users[i % len(users)],
            )
            for i in range(30)
        )


def seed_model(services: Any, root: Path, index: int) -> None:
    name = f"model-{index:02d}"
    source = root / "seed-models" / f"{name}.bin"
    source.parent.mkdir(exist_ok=True)
    services.models.create({"name": name, "description": f"model {index}", "tags": {"team": "a"}})
    for version in range(3):
        source.write_bytes(os.urandom(1024))
        services.models.register(
            name,
            source,
            metrics={"accuracy": 0.5 + version / 10, "loss": 1.0 / (version + 1)},
            params={"lr": 0.001 * (version + 1)},
        )
    services.models.set_alias(name, "production", 2)
    services.models.set_alias(name, "staging", 3)


FILES_PER_DATASET = 500


def seed_dataset(services: Any, root: Path, index: int) -> None:
    name = f"dataset-{index:02d}"
    folder = root / "data" / name
    folder.mkdir(parents=True)
    # Image-like datasets: many small files, so each version's manifest is long.
    for item in range(FILES_PER_DATASET):
        (folder / f"img-{item:05d}.jpg").write_bytes(os.urandom(64))
    services.datasets.create({"name": name, "source_url": folder.as_uri()})
    if index % 2 == 0:
        services.datasets.warm(name)


# --- the server, with an optional sampling profiler in it ---------------------------------------


class ThreadProfiles:
    """cProfile in every thread (the event loop's and the pool's that runs database work),
    timed by each thread's own CPU clock, so waiting costs nothing. SIGUSR2 writes the totals
    so far, all threads together, as ``pstats`` data (cumulative: the reader subtracts the
    previous dump)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.profiles: list[cProfile.Profile] = []

    def install(self) -> None:
        self._start()
        threading.setprofile(self._start_in_thread)  # threads started from now on
        signal.signal(signal.SIGUSR2, self.dump)

    def _start(self) -> None:
        profile = cProfile.Profile(time.thread_time)
        self.profiles.append(profile)
        profile.enable()

    def _start_in_thread(self, *_: Any) -> None:
        self._start()  # replaces this hook in the thread

    def dump(self, *_: Any) -> None:
        main = self.profiles[0]
        stats = pstats.Stats(*self.profiles)  # stops the main thread's profile ...
        main.enable()  # ... so start it again
        written = self.out.with_suffix(".tmp")
        stats.dump_stats(written)
        written.replace(self.out)  # whole, or not there yet


def serve(argv: list[str], profile_to: str | None) -> None:
    """Run Jupyter Server (in this process), profiled when ``profile_to`` names a file."""
    from jupyter_server.serverapp import main as jupyter_server

    if profile_to:
        ThreadProfiles(Path(profile_to)).install()
    sys.argv = ["jupyter-server", *argv]
    jupyter_server()


def start_server(
    root: Path, state: Path, sources: Path | None, profile_to: Path | None
) -> tuple[subprocess.Popen[bytes], int, str]:
    """A Jupyter server with labrig from ``sources`` (a labrig checkout; None: this one) on
    ``state``; returns it with its port and token."""
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "LABRIG_DATA_DIR": str(state), "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("LABRIG_DATABASE_URL", None)
    if sources is not None:
        folders = ("server_ext", "kernels", "dataset_mounts")
        env["PYTHONPATH"] = os.pathsep.join(str(sources / folder) for folder in folders)
    log = (state / f"server-{port}.log").open("wb")
    command = [sys.executable, __file__, "--serve"]
    if profile_to is not None:
        command += ["--profile-to", str(profile_to)]
    command += [
        "--",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",
    ]
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    return server, port, token


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of the process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- measuring ----------------------------------------------------------------------------------


def wait_ready(client: Any, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):  # not listening yet
            if client.get(f"{API}/status").status_code == 200:
                return
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer within {seconds:.0f} s")


def idle_rate(pid: int, seconds: float) -> float:
    """CPU seconds per second the server spends with no request to answer."""
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


@dataclass
class Server:
    """One server under measurement, and what each round of its requests cost."""

    name: str
    process: subprocess.Popen[bytes]
    client: Any
    background: float = 0.0
    #: Per round: (CPU seconds, wall seconds, requests).
    rounds: list[tuple[float, float, int]] = field(default_factory=list)
    body: bytes = b""

    def send(self, path: str, requests: int) -> None:
        before, started = cpu_seconds(self.process.pid), time.monotonic()
        for _ in range(requests):
            reply = self.client.get(f"{API}/{path}")
            reply.raise_for_status()
        wall = time.monotonic() - started
        self.rounds.append((cpu_seconds(self.process.pid) - before, wall, requests))
        self.body = reply.content

    def figures(self) -> dict[str, Any]:
        """CPU-ms per request, less the idle server's: the median of the rounds (a busy spell
        on the machine inflates a round or two), the mean, and the mean raw; then start
        afresh."""
        net = [max(0.0, cpu - self.background * wall) / n for cpu, wall, n in self.rounds]
        requests = sum(n for _, _, n in self.rounds)
        row = {
            "cpu_ms": round(statistics.median(net) * 1000, 2),
            "cpu_ms_mean": round(
                sum(c - self.background * w for c, w, _ in self.rounds) / requests * 1000, 2
            ),
            "cpu_ms_raw": round(sum(c for c, _, _ in self.rounds) / requests * 1000, 2),
            "bytes": len(self.body),
        }
        self.rounds = []
        return row


def same_reply(a: bytes, b: bytes) -> bool:
    """Whether two servers answered alike (byte for byte, but for the time of a sample)."""
    if a == b:
        return True
    left, right = json.loads(a), json.loads(b)
    if isinstance(left, dict) and isinstance(right, dict):
        left.pop("sampled_at", None)
        right.pop("sampled_at", None)
    return bool(left == right)


def collect(server: subprocess.Popen[bytes], dump: Path) -> Totals:
    """Have the server write its profile so far, and read it."""
    dump.unlink(missing_ok=True)
    server.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 30
    while not dump.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the server wrote no profile within 30 s")
        time.sleep(0.05)
    return read_totals(dump)


Totals = dict[str, tuple[float, float]]


def read_totals(dump: Path) -> Totals:
    """CPU seconds per function in a ``pstats`` dump: (self, inclusive)."""
    stats = pstats.Stats(str(dump)).stats  # type: ignore[attr-defined]
    return {
        f"{short_path(file)}:{line}:{name}": (own, inclusive)
        for (file, line, name), (_cc, _nc, own, inclusive, _callers) in stats.items()
    }


def short_path(filename: str) -> str:
    """``labrig/jobs/queries.py`` for labrig's files, ``folder/file.py`` for the others."""
    if "/labrig/" in filename:
        return "labrig/" + filename.rsplit("/labrig/", 1)[1]
    return "/".join(Path(filename).parts[-2:])


def top_functions(now: Totals, before: Totals, requests: int, count: int) -> dict[str, Any]:
    """The functions with the most CPU of their own (``self``) and the labrig functions with
    the most including their callees (``labrig``) since ``before``, in CPU-ms per request."""
    spent = {
        name: (own - before.get(name, (0.0, 0.0))[0], total - before.get(name, (0.0, 0.0))[1])
        for name, (own, total) in now.items()
    }

    def ranked(column: int, names: Any) -> list[tuple[str, float]]:
        top = sorted(names, key=lambda n: -spent[n][column])[:count]
        return [(n, round(spent[n][column] / requests * 1000, 3)) for n in top]

    return {
        "self": ranked(0, spent),
        "labrig": ranked(1, [n for n in spent if n.startswith("labrig/")]),
    }


@contextlib.contextmanager
def running(
    name: str, root: Path, state: Path, sources: Path | None, profile_to: Path | None
) -> Iterator[Server]:
    import httpx

    process, port, token = start_server(root, state, sources, profile_to)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        ) as client:
            wait_ready(client, 120)
            yield Server(name, process, client)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def run(args: argparse.Namespace, root: Path, state: Path) -> dict[str, Any]:
    from labrig import identity

    seed(root, state, args, identity.process_user())
    dump = state / "profile.pstats" if args.profile else None
    report: dict[str, Any] = {"endpoints": {}, "profiles": {}, "idle_cpu_ms_per_s": {}}
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(running("current", root, state, None, dump))]
        if args.baseline:
            baseline = running("baseline", root, state, args.baseline, None)
            servers.append(stack.enter_context(baseline))
        time.sleep(2)  # the servers' start-up work settles
        for server in servers:
            server.background = idle_rate(server.process.pid, args.idle_seconds)
            report["idle_cpu_ms_per_s"][server.name] = round(server.background * 1000, 2)
        current = servers[0]
        for name, path in POLLED.items():
            for server in servers:  # first-use imports and caches are not what the panel pays
                server.send(path, 20)
                server.figures()
            before = collect(current.process, dump) if dump is not None else {}
            # Rounds taking turns, so that a busy spell on the machine hits both servers alike.
            for _ in range(args.rounds):
                for server in servers:
                    server.send(path, max(1, args.requests // args.rounds))
            row: dict[str, Any] = {server.name: server.figures() for server in servers}
            if len(servers) > 1:
                row["same_reply"] = same_reply(servers[0].body, servers[1].body)
            report["endpoints"][name] = row
            if dump is not None:
                after = collect(current.process, dump)
                report["profiles"][name] = top_functions(after, before, args.requests, args.top)
    return report


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    idle = ", ".join(f"{n} {v}" for n, v in report["idle_cpu_ms_per_s"].items())
    print(
        f"server CPU-ms per request: the median of {args.rounds} rounds, then the mean, and "
        f"the mean with the idle server's CPU ({idle} CPU-ms/s) not subtracted; "
        f"{args.requests} requests per endpoint, one at a time; seeded with {args.jobs} jobs, "
        f"{args.models} models, {args.datasets} datasets, {args.users} users"
    )
    names = list(report["idle_cpu_ms_per_s"])
    header = "".join(f"{n + ' ms':>14}{'mean':>7}{'raw':>7}" for n in names)
    compare = len(names) > 1
    print(f"{'endpoint':<16}{header}{'bytes':>8}" + ("   ratio  same reply" if compare else ""))
    for endpoint, row in report["endpoints"].items():
        cells = "".join(
            f"{row[n]['cpu_ms']:>14}{row[n]['cpu_ms_mean']:>7}{row[n]['cpu_ms_raw']:>7}"
            for n in names
        )
        line = f"{endpoint:<16}{cells}{row[names[0]]['bytes']:>8}"
        if compare:
            base = row[names[1]]["cpu_ms"]
            ratio = row[names[0]]["cpu_ms"] / base if base else 0.0
            line += f"{ratio:>8.2f}  {'yes' if row['same_reply'] else 'NO'}"
        print(line)
    for name, profile in report["profiles"].items():
        print(f"\n{name}: CPU-ms per request under the profiler")
        for kind in ("self", "labrig"):
            print(f"  {kind}:")
            for function, cpu_ms in profile[kind]:
                print(f"    {cpu_ms:>7.3f}  {function}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        rest = sys.argv[2:]
        profile_to = rest[1] if rest[:1] == ["--profile-to"] else None
        serve(rest[rest.index("--") + 1 :], profile_to)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10, help="turns each server takes")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a labrig checkout (e.g. `git archive <commit>` unpacked) to measure alongside, "
        "on the same state, taking turns with this one",
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle CPU measured over")
    parser.add_argument("--profile", action="store_true", help="profile the server's threads")
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="labrig-profile-"))
    root, state = workdir / "root", workdir / "state"
    root.mkdir()
    state.mkdir()
    os.environ["LABRIG_DATA_DIR"] = str(state)
    try:
        report = run(args, root, state)
    except BaseException:
        print(f"server logs kept in {state}", file=sys.stderr)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, args)


if __name__ == "__main__":
    main()
