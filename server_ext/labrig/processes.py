"""Processes labrig started, recognised across server restarts by pid and create time.

A pid alone may have been reused by the time a restarted server looks again; the pair
(pid, create time) names one process for good. Kernels' GPU grants and job supervisors are
both tracked this way.
"""

from __future__ import annotations

import psutil


def process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def process_alive(pid: int | None, started: float | None) -> bool:
    """The process with this pid is the one we started (same create time) and is not a zombie."""
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 0.05:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
