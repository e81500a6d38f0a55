"""What of a model version's lineage the acting user may see.

Models are readable by everyone, but a version registered by a job records that job (its id,
notebook, snapshot and parameters) and the datasets it read, and another user's job and private
datasets do not exist for anyone else. So a reader who may not see the job gets the lineage
with the job's id only (an id answers 404 to them, as an unknown one does; the lineage graph
shows "a job of another user"), and without the private datasets of others, which
``private_datasets`` counts so the reader still learns more was read; the owner and
administrators get it whole.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import identity
from ..store.tables import Dataset, Job

#: What of a lineage describes the job that registered the version (its id stays).
JOB_KEYS = ("notebook_path", "snapshot_sha256", "parameters")


def visible_lineage(
    session: Session, reader: identity.Principal, registrant: str | None, lineage: Any
) -> Any:
    """``lineage`` as ``reader`` may see it. Whose the job is: its row's owner, or, once it was
    deleted, the version's registrant (a job registers as its owner)."""
    if not isinstance(lineage, dict) or reader.admin:
        return lineage
    shown = dict(lineage)
    job_id = shown.get("job_id")
    if job_id:
        job = session.get(Job, str(job_id))
        if not reader.owns(job.owner if job is not None else registrant):
            for key in JOB_KEYS:
                shown.pop(key, None)
    datasets = shown.get("datasets")
    if isinstance(datasets, dict) and datasets:
        rows = session.execute(
            select(Dataset.name, Dataset.owner).where(
                Dataset.name.in_(list(datasets)), Dataset.private.is_(True)
            )
        )
        hidden = {name for name, owner in rows if not reader.owns(owner)}
        if hidden:
            shown["datasets"] = {name: v for name, v in datasets.items() if name not in hidden}
            shown["private_datasets"] = len(hidden)
    return shown
