"""The model registry: models, versions (numbered atomically per model), aliases with history,
and content-addressed files.

``ModelRegistry`` is composed of one part per concern, each in its own module:

- ``queries``: models and versions (create, read, list, delete) and reading their files;
- ``registration``: storing files under leases and committing a version in one transaction;
- ``job_outputs``: registering a finished job's declared outputs with its lineage;
- ``aliases``: aliases and their audit history;
- ``blob_gc``: garbage collection of the blob store.

The names other modules import from here (helpers, JSON shapes, limits) are re-exported.
"""

from __future__ import annotations

from .aliases import ModelAliases
from .blob_gc import GC_GRACE, LEASE_TTL, BlobCollector
from .job_outputs import JobOutputs, idempotency_key_for
from .queries import MODEL_FIELDS, ORDERS
from .registration import SourceFile, collect_files
from .serialize import alias_event_json, model_json, version_json

__all__ = [
    "GC_GRACE",
    "LEASE_TTL",
    "MODEL_FIELDS",
    "ORDERS",
    "ModelRegistry",
    "SourceFile",
    "alias_event_json",
    "collect_files",
    "idempotency_key_for",
    "model_json",
    "version_json",
]


class ModelRegistry(JobOutputs, ModelAliases, BlobCollector):
    """One registry over one database and one blob store (see the parts above)."""
