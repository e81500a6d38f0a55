"""The job service: submission, admission, lifecycle, logs/progress/metrics, and schedules.

Jobs are recorded in the state database and run by a ``JobBackend`` (``backend.py``): detached
local processes by default, Kubeflow jobs on Kubernetes. ``tick()`` (called every second by the
server, and once at start) applies what the backend observes, releases the resources of ended
jobs, fires due schedules and admits queued jobs.

``JobService`` is the top of a stack of layers, one module per concern (see ``base``):
``queries`` (reading jobs), ``lifecycle`` (admission, hand-over, cancel, reconcile, finalize),
``submission`` (snapshots, the job form, submit/rerun) and ``schedules`` (cron). The names other
modules import from here are re-exported below.
"""

from __future__ import annotations

from .base import DatasetMounts, ModelOutputs
from .queries import LOG_CHUNK as LOG_CHUNK
from .queries import job_json as job_json
from .runtime import STATUSES
from .schedules import JobSchedules
from .schedules import schedule_json as schedule_json
from .submission import new_id as new_id
from .submission import notebook_language as notebook_language

__all__ = ["STATUSES", "DatasetMounts", "JobService", "ModelOutputs"]


class JobService(JobSchedules):
    def tick(self) -> None:
        """One round of housekeeping; the first one after start reconciles with what runs."""
        with self._tick_lock:
            first = not self._ticked
            self._ticked = True
            self.reconcile(first)
            self.finalize()
            self.fire_schedules()
            self.admit()
