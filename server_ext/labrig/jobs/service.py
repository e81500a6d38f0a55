"""The job service: submission, admission, lifecycle, logs/progress/metrics, and schedules.

Jobs are recorded in the state database and run by a detached supervisor per job
(``labrig.jobs.supervisor``), so the server may stop and start while they run. ``tick()`` (called
every second by the server, and once at start) reconciles records with live processes, releases
the resources of finished jobs, fires due schedules and admits queued jobs.

``JobService`` is the top of a stack of layers, one module per concern (see ``base``):
``queries`` (reading jobs), ``lifecycle`` (admission, launch, cancel, reconcile, finalize),
``submission`` (snapshots, the job form, submit/rerun) and ``schedules`` (cron). The names other
modules import from here are re-exported below.
"""

from __future__ import annotations

from .base import DatasetMounts, ModelOutputs
from .lifecycle import LAUNCH_GRACE as LAUNCH_GRACE
from .lifecycle import NEVER_LAUNCHED as NEVER_LAUNCHED
from .lifecycle import VANISHED, VANISHED_AT_START
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
            self.reconcile(VANISHED_AT_START if first else VANISHED)
            self.finalize()
            self.fire_schedules()
            self.admit()
