"""One job's whole life through the REST API, as the panel drives it (run on each backend)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nbformat

GOOD = {"notebook_path": "nb/train.ipynb"}


async def submit_follow_and_rerun(api: Any, check: Any, jp_fetch: Any, server_root: Path) -> None:
    """The REST loop a panel user drives: submit, follow the events to the end, read the
    logs, download the output, re-run with edited parameters, delete."""
    code, job = await api(
        "jobs", method="POST", body={**GOOD, "parameters": {"lr": 2, "epochs": 5}, "name": "e2e"}
    )
    assert code == 201, job
    check(code, job, "/jobs", "post")
    response = await jp_fetch(
        "labrig", "api", "v1", "jobs", job["id"], "events", request_timeout=120
    )
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("data: ", 1)[1]))
        for block in response.body.decode().split("\n\n")
        if block.startswith("event:")
    ]
    names = [name for name, _ in events]
    assert names[-1] == "end"
    statuses = [data["status"] for name, data in events if name == "status"]
    assert statuses[-1] == "SUCCEEDED", events
    logged = "".join(data["text"] for name, data in events if name == "log")
    assert "10" in logged  # lr * epochs
    progress = [data for name, data in events if name == "progress"][-1]
    assert progress[0]["cells_done"] == progress[0]["cells"] == 3
    code, chunk = await api(f"jobs/{job['id']}/logs", rank=0, offset=0)
    check(code, chunk, "/jobs/{job_id}/logs", "get")
    assert chunk["done"] is True
    assert "10" in chunk["text"]
    code, reply = await api(f"jobs/{job['id']}/logs", rank=3)
    assert (code, reply["field"]) == (400, "rank")
    output = await jp_fetch("labrig", "api", "v1", "jobs", job["id"], "output")
    nb = nbformat.reads(output.body.decode(), as_version=4)
    assert nb.cells[1].source.startswith("# Parameters")  # papermill's injected cell
    code, listed = await api("jobs", limit=1)
    assert listed["items"][0]["id"] == job["id"]
    code, rerun = await api(
        f"jobs/{job['id']}/rerun", method="POST", body={"parameters": {"lr": "x"}}
    )
    assert (code, rerun["field"]) == (400, "parameters.lr")
    code, again = await api(
        f"jobs/{job['id']}/rerun", method="POST", body={"parameters": {"epochs": 7}}
    )
    assert code == 201
    assert again["spec"]["parameters"] == {"lr": 2, "epochs": 7}
    assert again["rerun_of"] == job["id"]
    assert again["snapshot_sha256"] == job["snapshot_sha256"]
    for _ in range(600):
        code, state = await api(f"jobs/{again['id']}")
        if state["status"] in ("SUCCEEDED", "FAILED"):
            break
        await asyncio.sleep(0.2)
    assert state["status"] == "SUCCEEDED"
    code, _ = await api(f"jobs/{job['id']}", method="DELETE")
    assert code == 204
    assert not (server_root / job["output_path"]).exists()
    code, _ = await api(f"jobs/{job['id']}")
    assert code == 404
