"""Jobs: submit, list, inspect, cancel, re-run, delete; logs, metrics and live events (SSE);
the Run-as-job form of a notebook; cron schedules."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..errors import InvalidInput
from .base import LabrigHandler

EVENT_POLL = 0.5
SCHEDULE_ACTIONS = ("pause", "resume", "run")
KEEPALIVE = 15.0


def _int_arg(handler: LabrigHandler, name: str, default: int) -> int:
    raw = handler.query_value(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise InvalidInput(f"{name} must be a whole number, got {raw!r}", field=name) from err


class JobsSection(LabrigHandler):
    """Jobs, schedules, their logs, outputs and events."""

    auth_resource = "labrig:jobs"


class JobsHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        status = self.query_value("status")
        self.write_page(await self.call(self.services.jobs.list, self.page_request(), status))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.write_json(await self.call(self.services.jobs.submit, self.json_body()), status=201)


class JobHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.write_json(await self.call(self.services.jobs.get, job_id))

    @web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        await self.call(self.services.jobs.delete, job_id)
        self.set_status(204)
        self.finish()


class JobCancelHandler(JobsSection):
    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        self.write_json(await self.call(self.services.jobs.cancel, job_id))


class JobRerunHandler(JobsSection):
    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        body = self.json_body() if self.request.body else {}
        self.write_json(await self.call(self.services.jobs.rerun, job_id, body), status=201)


class JobLogsHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        rank = _int_arg(self, "rank", 0)
        offset = _int_arg(self, "offset", 0)
        self.write_json(await self.call(self.services.jobs.logs, job_id, rank, offset))


class JobMetricsHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.write_json(await self.call(self.services.jobs.metrics, job_id))


class JobOutputHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        path = await self.call(self.services.jobs.output_notebook, job_id)
        data = await self.call(path.read_bytes)
        self.set_header("Content-Disposition", f'attachment; filename="{path.name}"')
        # APIHandler.finish would label it application/json otherwise.
        self.finish(data, set_content_type="application/x-ipynb+json")


class JobEventsHandler(JobsSection):
    """Server-sent events: ``status``, ``progress`` (per rank), ``log`` (new lines of a rank),
    ``metric`` (new points), then ``end`` once the job has ended, what it registered is in the
    registry, and everything was sent."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        jobs = self.services.jobs
        await self.call(jobs.get, job_id)  # a 404 before the stream starts
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        cursor: dict[str, Any] = {}
        quiet_since = time.monotonic()
        try:
            while True:
                events, done = await self.call(jobs.events, job_id, cursor)
                for name, data in events:
                    self.write(f"event: {name}\ndata: {json.dumps(data)}\n\n")
                if done:
                    self.write("event: end\ndata: {}\n\n")
                    await self.flush()
                    break
                if events:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > KEEPALIVE:
                    self.write(": keep-alive\n\n")
                    quiet_since = time.monotonic()
                await self.flush()
                await asyncio.sleep(EVENT_POLL)
        except StreamClosedError:
            return
        self.finish()


class JobFormHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self, notebook_path: str) -> None:
        self.write_json(await self.call(self.services.jobs.job_form, notebook_path))


class SchedulesHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_page(await self.call(self.services.jobs.list_schedules, self.page_request()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.call(self.services.jobs.create_schedule, body), status=201)


class ScheduleHandler(JobsSection):
    @web.authenticated
    @authorized
    async def get(self, schedule_id: str) -> None:
        self.write_json(await self.call(self.services.jobs.get_schedule, schedule_id))

    @web.authenticated
    @authorized
    async def delete(self, schedule_id: str) -> None:
        await self.call(self.services.jobs.delete_schedule, schedule_id)
        self.set_status(204)
        self.finish()


class ScheduleActionHandler(JobsSection):
    @web.authenticated
    @authorized
    async def post(self, schedule_id: str, action: str) -> None:
        jobs = self.services.jobs
        if action not in SCHEDULE_ACTIONS:
            raise InvalidInput(
                f"no schedule action {action!r}; use one of {', '.join(SCHEDULE_ACTIONS)}",
                field="action",
            )
        if action == "run":
            self.write_json(await self.call(jobs.run_schedule_now, schedule_id), status=201)
        else:
            self.write_json(await self.call(jobs.set_paused, schedule_id, action == "pause"))


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("jobs", JobsHandler),
    ("jobs/(?P<job_id>[^/]+)", JobHandler),
    ("jobs/(?P<job_id>[^/]+)/cancel", JobCancelHandler),
    ("jobs/(?P<job_id>[^/]+)/rerun", JobRerunHandler),
    ("jobs/(?P<job_id>[^/]+)/logs", JobLogsHandler),
    ("jobs/(?P<job_id>[^/]+)/metrics", JobMetricsHandler),
    ("jobs/(?P<job_id>[^/]+)/events", JobEventsHandler),
    ("jobs/(?P<job_id>[^/]+)/output", JobOutputHandler),
    ("job-form/(?P<notebook_path>.+)", JobFormHandler),
    ("job-schedules", SchedulesHandler),
    ("job-schedules/(?P<schedule_id>[^/]+)", ScheduleHandler),
    # Any action is routed, so an unknown one is answered in JSON rather than by Jupyter's page.
    ("job-schedules/(?P<schedule_id>[^/]+)/(?P<action>[^/]+)", ScheduleActionHandler),
]
