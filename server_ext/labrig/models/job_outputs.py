"""Job outputs: what a finished job rank declared becomes model versions with the job's lineage,
once per (job, rank, path) however often the job is retried."""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from typing import Any

from .. import identity
from ..errors import InvalidInput
from .registration import ModelRegistration


def idempotency_key_for(job_id: str, rank: int, path: str) -> str:
    """The key that makes registering (job, rank, path) again return the first version."""
    return "job:" + hashlib.sha256(f"{job_id}\0{rank}\0{path}".encode()).hexdigest()


class JobOutputs(ModelRegistration):
    """Registration of the outputs a job rank declared."""

    def register_job_outputs(
        self,
        job_id: str,
        rank: int,
        outputs: list[dict[str, Any]],
        lineage: dict[str, Any],
        *,
        key: str | None = None,
    ) -> list[dict[str, Any]]:
        """Register a finished job's outputs; a retried job adds no versions. Each output is
        ``{"name", "path"}`` plus, for a ``register`` call a rank staged, its other arguments;
        ``key`` (default: the path) tells outputs of one rank apart. The versions are
        registered by the job's owner, ``lineage["user"]`` (the server's record of the job),
        else by the acting user; a ``user`` a rank staged is not taken, so a rank cannot claim
        another identity."""
        owner = str(lineage.get("user") or "")
        acting = identity.acting_as(identity.Principal(owner)) if owner else nullcontext()
        with acting:
            return self._register_outputs(job_id, rank, outputs, lineage, key)

    def _register_outputs(
        self,
        job_id: str,
        rank: int,
        outputs: list[dict[str, Any]],
        lineage: dict[str, Any],
        key: str | None,
    ) -> list[dict[str, Any]]:
        registered = []
        for index, output in enumerate(outputs):
            if not isinstance(output, dict) or "name" not in output or "path" not in output:
                raise InvalidInput(
                    f"outputs[{index}] must be {{'name': model, 'path': file or directory}}",
                    field="outputs",
                )
            path = str(output["path"])
            noted = output.get("lineage") or {}
            job_lineage = {**noted, **lineage, "job_id": job_id, "rank": rank}
            # What the job mounted, and what the rank's notebook mounted itself on first use.
            datasets = {**(noted.get("datasets") or {}), **(lineage.get("datasets") or {})}
            if datasets:
                job_lineage["datasets"] = datasets
            registered.append(
                self.register(
                    output["name"],
                    path,
                    metrics=output.get("metrics"),
                    params=output.get("params", lineage.get("parameters")),
                    tags=output.get("tags"),
                    note=output.get("note", f"output of job {job_id}"),
                    lineage=job_lineage,
                    kind=output.get("kind"),
                    idempotency_key=idempotency_key_for(job_id, rank, key or path),
                )
            )
        return registered
