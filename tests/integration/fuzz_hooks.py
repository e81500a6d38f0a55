"""schemathesis hooks for the labrig fuzz run (loaded by ``st`` through SCHEMATHESIS_HOOKS).

A schema-valid submission of the seeded notebook is a real job, and a schedule a fuzzer makes
or resumes fires real jobs: each is cancelled or paused as soon as it is answered, so fuzzing
tests the API without running notebooks on the test machine.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import schemathesis

API_URL = os.environ["LABRIG_FUZZ_URL"]
TOKEN = os.environ["LABRIG_FUZZ_TOKEN"]

#: Operations whose 201 answer is a job that now runs.
STARTS_A_JOB = {
    ("POST", "/jobs"),
    ("POST", "/jobs/{job_id}/rerun"),
    ("POST", "/job-schedules/{schedule_id}/{action}"),
}
#: Operations whose answer is a schedule that may fire.
ARMS_A_SCHEDULE = {("POST", "/job-schedules"), ("POST", "/job-schedules/{schedule_id}/{action}")}


def post(path: str) -> None:
    request = urllib.request.Request(
        f"{API_URL}{path}", method="POST", headers={"Authorization": f"token {TOKEN}"}, data=b""
    )
    try:
        urllib.request.urlopen(request, timeout=30).close()
    except urllib.error.HTTPError as err:
        if err.code != 409:  # it ended on its own already
            raise


@schemathesis.hook
def after_call(context: Any, case: schemathesis.Case, response: schemathesis.Response) -> None:
    operation = (case.operation.method.upper(), case.operation.path)
    if response.status_code not in (200, 201):
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return
    if not isinstance(body, dict) or "id" not in body:
        return
    if response.status_code == 201 and operation in STARTS_A_JOB and "status" in body:
        post(f"/jobs/{body['id']}/cancel")
    elif operation in ARMS_A_SCHEDULE and "cron" in body and not body.get("paused"):
        post(f"/job-schedules/{body['id']}/pause")
