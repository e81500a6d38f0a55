"""The server's background housekeeping for jobs: ``JobService.tick()`` every second, off the
event loop (reconcile with live processes at start, release resources, fire schedules, admit)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado.ioloop import PeriodicCallback

from .service import JobService

INTERVAL_MS = 1000


def start_job_ticker(jobs: JobService, log: logging.Logger | Any) -> PeriodicCallback:
    busy = False

    async def tick() -> None:
        nonlocal busy
        if busy:
            return
        busy = True
        try:
            await asyncio.to_thread(jobs.tick)
        except Exception:
            log.exception("labrig: job housekeeping failed")
        finally:
            busy = False

    ticker = PeriodicCallback(tick, INTERVAL_MS)
    ticker.start()
    background.add(asyncio.ensure_future(tick()))  # reconcile at once, not a second later
    return ticker


background: set[asyncio.Future[None]] = set()
