"""The command of every replica of a job on a cluster: ``python -m labrig.jobs.launcher SPEC_DIR``.

It reads where this node stands from the training operator's environment (PyTorchJob v1 sets
``MASTER_ADDR``/``MASTER_PORT`` and the replica's ``RANK``; TrainJob's torch runtime and
PyTorchJob's ``nprocPerNode`` set ``PET_NNODES``/``PET_NPROC_PER_NODE``/``PET_NODE_RANK``/
``PET_MASTER_ADDR``/``PET_MASTER_PORT``) and starts this node's ranks the way a local job's
supervisor does: torchrun agents whose workers execute the notebook with papermill.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def torchrun(
    nodes: int, per_node: int, node_rank: int, rendezvous: list[str], worker: list[str]
) -> list[str]:
    """The torchrun agent command of one node of a job (no restarts: a failed rank fails it)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes}",
        f"--nproc-per-node={per_node}",
        f"--node-rank={node_rank}",
        *rendezvous,
        "--max-restarts=0",
        "--monitor-interval=0.2",
        *worker,
    ]


def single_rank_env(addr: str, port: int | str) -> dict[str, str]:
    """What torchrun would set for the only rank of a one-process job."""
    return {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "GROUP_RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": addr,
        "MASTER_PORT": str(port),
    }


def node_plan(env: dict[str, str]) -> tuple[int, str, str]:
    """This node's rank and the rendezvous address and port, from the operator's environment."""
    node_rank = env.get("PET_NODE_RANK") or env.get("JOB_COMPLETION_INDEX") or env.get("RANK")
    addr = env.get("PET_MASTER_ADDR") or env.get("MASTER_ADDR") or "127.0.0.1"
    port = env.get("PET_MASTER_PORT") or env.get("MASTER_PORT") or "23456"
    return int(node_rank or 0), addr, port


def command(spec_dir: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command this node runs and its environment."""
    job = json.loads((spec_dir / "job.json").read_text())
    nodes, per_node = int(job["nodes"]), int(job["procs_per_node"])
    node_rank, addr, port = node_plan(env)
    worker = ["-m", "labrig.jobs.worker", "--remote", str(spec_dir)]
    if nodes * per_node == 1:
        return [sys.executable, *worker], {**env, **single_rank_env(addr, port)}
    static = [f"--master-addr={addr}", f"--master-port={port}"]
    return torchrun(nodes, per_node, node_rank, static, worker), env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m labrig.jobs.launcher SPEC_DIR", file=sys.stderr)
        return 2
    argv_, env = command(Path(args[0]), dict(os.environ))
    sys.stdout.flush()
    os.execve(argv_[0], argv_, env)
    return 1  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())
