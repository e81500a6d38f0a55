"""The lineage of a model version as a graph: dataset versions -> notebook snapshot (with its
parameters) -> job (ranks, resources, duration, final state) -> model version.

One shape for the panel (it draws the graph, each node a link) and the CLI. A node whose object
was deleted since stays in the graph with ``exists: false``, so the history still reads whole.

Models are readable by everyone, but the jobs and private datasets behind them are not: a node
for another user's job or its snapshot says only that it exists and is theirs (``hidden: true``;
the job's id stays, as the version's own lineage already shows it, but not its name, state,
resources or times), and another user's private dataset is "a private dataset", without its
name or version (to them it does not exist).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from .links import HIDDEN_DATASET, Links, short


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except ValueError:
        return None
    return round(delta.total_seconds(), 1)


class LineageGraph:
    """Builds the graph of one model version from the registry, the jobs and the catalog."""

    def __init__(self, links: Links) -> None:
        self.links = links
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, str]] = []

    def build(self, name: str, version: int) -> dict[str, Any]:
        services = self.links.services
        info = services.models.get_version(name, version)
        lineage = info.get("lineage") or {}
        target = self._add(
            {
                "id": f"model_version:{name}/{version}",
                "kind": "model_version",
                "label": f"{name} v{version}",
                "exists": True,
                "model": name,
                "version": version,
                "metrics": info.get("metrics") or {},
                "aliases": info.get("aliases") or [],
                "created_at": info.get("created_at"),
            }
        )
        job, job_node = self._job(lineage)
        if job_node is not None:
            self._edge(job_node, target, "registered")
            target = job_node
        source = self._source(lineage, job)
        if source is not None:
            self._edge(source, target, "ran as" if job_node is not None else "registered")
            target = source
        registered = [{"datasets": lineage.get("datasets") or {}}]
        if job is not None:
            versions = self.links.job_dataset_versions(job, registered)
        else:
            versions = dict(lineage.get("datasets") or {})
        datasets = self.links.datasets(versions)
        # The version's lineage, as this user reads it, counts the private datasets it leaves out.
        unnamed = int(lineage.get("private_datasets") or 0) - sum(d["hidden"] for d in datasets)
        datasets += [dict(HIDDEN_DATASET) for _ in range(max(unnamed, 0))]
        for index, dataset in enumerate(datasets):
            self._edge(self._dataset(index, dataset), target, "read by")
        return {"model": name, "version": version, "nodes": self.nodes, "edges": self.edges}

    def _dataset(self, index: int, dataset: dict[str, Any]) -> str:
        if dataset["hidden"]:
            # Numbered, not named: two private datasets stay two nodes, and say nothing more.
            return self._add(
                {"id": f"dataset:private:{index}", "kind": "dataset", "label": "a private dataset"}
                | dataset
                | {"current": False}
            )
        return self._add(
            {
                "id": f"dataset:{dataset['name']}@{dataset['version'] or ''}",
                "kind": "dataset",
                "label": dataset["name"],
                **dataset,
                "current": dataset["exists"]
                and dataset["version"] is not None
                and dataset["version"] == dataset["current_version"],
            }
        )

    def _job(self, lineage: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        job_id = lineage.get("job_id")
        if not job_id:
            return None, None
        job, hidden = self.links.visible_job(str(job_id))
        if hidden:
            label = "a job of another user"
        else:
            label = job["name"] if job else f"job {short(str(job_id))}"
        node: dict[str, Any] = {
            "id": f"job:{job_id}",
            "kind": "job",
            "job_id": job_id,
            "exists": job is not None or hidden,
            "hidden": hidden,
            "label": label,
            "rank": lineage.get("rank"),
        }
        if job is not None:
            node.update(
                status=job["status"],
                reason=job.get("reason"),
                ranks=job.get("world_size", 1),
                resources=self.links.resources(job),
                started_at=job.get("started_at"),
                finished_at=job.get("finished_at"),
                duration_seconds=_seconds(job.get("started_at"), job.get("finished_at")),
            )
        return job, self._add(node)

    def _source(self, lineage: dict[str, Any], job: dict[str, Any] | None) -> str | None:
        """The notebook snapshot the job ran (with its parameters), else the notebook a kernel
        registered from."""
        sha = lineage.get("snapshot_sha256") or (job or {}).get("snapshot_sha256")
        path = lineage.get("notebook_path") or (job or {}).get("notebook_path")
        parameters = lineage.get("parameters")
        if parameters is None and job is not None:
            parameters = (job.get("spec") or {}).get("parameters")
        if sha:
            exists = self.links.snapshot_file(sha).is_file()
            return self._add(
                {
                    "id": f"snapshot:{sha}",
                    "kind": "snapshot",
                    "label": PurePosixPath(path).name if path else f"snapshot {short(sha)}",
                    "sha256": sha,
                    "notebook_path": path,
                    "parameters": parameters or {},
                    "exists": exists,
                    # Only those whose jobs ran it may open it.
                    "hidden": exists and self.links.snapshot_hidden(sha),
                }
            )
        if path:
            root = self.links.services.jobs.root_dir
            return self._add(
                {
                    "id": f"notebook:{path}",
                    "kind": "notebook",
                    "label": PurePosixPath(path).name,
                    "notebook_path": path,
                    "parameters": parameters or {},
                    "exists": (root / path).is_file(),
                }
            )
        return None

    def _add(self, node: dict[str, Any]) -> str:
        node.setdefault("hidden", False)
        if all(n["id"] != node["id"] for n in self.nodes):
            self.nodes.append(node)
        return str(node["id"])

    def _edge(self, source: str, target: str, label: str) -> None:
        self.edges.append({"source": source, "target": target, "label": label})


def lineage_graph(links: Links, name: str, version: int) -> dict[str, Any]:
    return LineageGraph(links).build(name, version)
