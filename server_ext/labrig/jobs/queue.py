"""Why a queued job waits, in one line that names what it needs and who holds it.

"waiting for 1 GPU: the host's 1 GPU is held by job 6fe1c0de12ab (rank 0)"
"waiting for 4 CPUs: 2 of the host's 4 CPUs are free; the rest are held by job 77a0 (ranks 0-1)"
"queued behind job 6fe1c0de12ab (priority 5), which is waiting for 1 GPU: …"
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CapacityExceeded
from ..resources.profiles import show_quantity

HOLDER = re.compile(r"job:(?P<job>[^/]+)/rank(?P<rank>\d+)|kernel:(?P<kernel>.+)")
UNITS = {"cpus": ("CPU", "CPUs"), "gpus": ("GPU", "GPUs"), "memory": ("memory", "memory")}


def _ranks(ranks: list[int]) -> str:
    ranks = sorted(ranks)
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    if ranks == list(range(ranks[0], ranks[-1] + 1)) and len(ranks) > 2:
        return f"ranks {ranks[0]}-{ranks[-1]}"
    return "ranks " + ", ".join(str(r) for r in ranks)


def describe_holders(holders: list[str], kernels: dict[str, str] | None = None) -> str:
    """``job:6fe1/rank0``, ``job:6fe1/rank1``, ``kernel:ab12`` -> "job 6fe1 (ranks 0, 1) and the
    kernel of train.ipynb" (``kernels`` maps kernel holders to their notebook paths)."""
    jobs: dict[str, list[int]] = {}
    others: list[str] = []
    for holder in holders:
        match = HOLDER.fullmatch(holder)
        if match and match["job"]:
            jobs.setdefault(match["job"], []).append(int(match["rank"]))
        elif match and match["kernel"]:
            path = (kernels or {}).get(holder)
            others.append(f"the kernel of {path}" if path else f"kernel {match['kernel']}")
        else:
            others.append(holder)
    parts = [f"job {job} ({_ranks(ranks)})" for job, ranks in jobs.items()] + others
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else "others"


def _amount(field: str, value: float) -> str:
    if field == "memory":
        return show_quantity("memory", value)
    singular, plural = UNITS.get(field, (field, field))
    return f"{value:g} {singular if value == 1 else plural}"


def waiting_reason(
    err: CapacityExceeded,
    job_id: str,
    spec: dict[str, Any],
    own_holds: int,
    kernels: dict[str, str] | None = None,
) -> str:
    """Why a job does not fit now. ``own_holds`` is how many of its ranks had been granted when
    the next one did not fit (their share is counted as free: the job gives it back)."""
    field = err.field or ""
    world = int(spec.get("nodes", 1)) * int(spec.get("procs_per_node", 1))
    per_rank = float(spec.get(field) or 0) if field in UNITS else 0.0
    if err.free is None or err.total is None or not per_rank:
        return f"waiting: {err.message}"
    needed = per_rank * world
    free = err.free + per_rank * own_holds
    others = [h for h in err.holders if not h.startswith(f"job:{job_id}/")]
    who = describe_holders(others, kernels)
    total = _amount(field, err.total)
    if free <= 0:
        held = f"the host's {total} {'is' if err.total == 1 else 'are'} held by {who}"
    elif needed > err.total:
        held = f"the host has only {total}"
    else:
        held = f"{_amount(field, free)} of the host's {total} free; the rest held by {who}"
    return f"waiting for {_amount(field, needed)}: {held}"


def behind_reason(blocker_id: str, blocker_priority: int, priority: int, why: str) -> str:
    """The reason of a job queued behind the first one that does not fit."""
    order = "of higher priority" if blocker_priority > priority else "submitted earlier"
    return f"queued behind job {blocker_id} ({order}), which is {why}"
