"""The jobs REST API: bad input is a 4xx naming the field; answers fit labrig/openapi.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_loop import submit_follow_and_rerun

from labrig.services import Services
from labrig.store.tables import ResourceRequest

GOOD = {"notebook_path": "nb/train.ipynb"}
BAD = [
    (
        {"notebook_path": "nb/train.ipynb", "parameters": {"momentum": 0.9}},
        400,
        "parameters.momentum",
    ),
    ({"notebook_path": "nb/train.ipynb", "parameters": {"lr": "fast"}}, 400, "parameters.lr"),
    ({"notebook_path": "nb/train.ipynb", "parameters": {"epochs": 2.5}}, 400, "parameters.epochs"),
    ({"notebook_path": "nb/train.ipynb", "parameters": {"flag": 1}}, 400, "parameters.flag"),
    ({"notebook_path": "../outside.ipynb"}, 400, "notebook_path"),
    ({"notebook_path": "/etc/passwd"}, 400, "notebook_path"),
    ({"notebook_path": "nb/missing.ipynb"}, 404, "notebook_path"),
    ({"notebook_path": "nb/broken.ipynb"}, 400, "notebook_path"),
    ({"notebook_path": "nb/notes.txt"}, 400, "notebook_path"),
    ({}, 400, "notebook_path"),
    ({**GOOD, "procs_per_node": 0}, 400, "procs_per_node"),
    ({**GOOD, "procs_per_node": 100000}, 400, "procs_per_node"),
    ({**GOOD, "nodes": -1}, 400, "nodes"),
    ({**GOOD, "nodes": "two"}, 400, "nodes"),
    ({**GOOD, "procs_per_node": 64, "cpus": 1}, 400, "procs_per_node"),
    ({**GOOD, "gpus": 1}, 400, "gpus"),
    ({**GOOD, "cpus": 0}, 400, "cpus"),
    ({**GOOD, "memory": 10**18}, 400, "memory"),
    ({**GOOD, "memory": "4GB"}, 400, "memory"),
    ({**GOOD, "cpus": "two"}, 400, "cpus"),
    ({**GOOD, "timeout": 0}, 400, "timeout"),
    ({**GOOD, "priority": 10**9}, 400, "priority"),
    ({**GOOD, "env": {"RANK": "3"}}, 400, "env"),
    ({**GOOD, "env": {"A B": "1"}}, 400, "env"),
    ({**GOOD, "datasets": ["no-such-dataset"]}, 400, "datasets"),
    ({**GOOD, "kernel_name": "no-such-kernel"}, 400, "kernel_name"),
    ({**GOOD, "outputs": [{"name": "m"}]}, 400, "outputs"),
    ({**GOOD, "colour": "red"}, 400, "colour"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD)
async def test_bad_submissions_are_refused_naming_the_field(
    api: Any, check: Any, server_root: Path, body: dict[str, Any], status: int, field: str
) -> None:
    code, reply = await api("jobs", method="POST", body=body)
    assert (code, reply.get("field")) == (status, field), reply
    check(code, reply, "/jobs", "post")


async def test_resources_are_kubernetes_quantities_as_for_kernels(
    api: Any, check: Any, server_root: Path
) -> None:
    body = {**GOOD, "cpus": "500m", "memory": "256Mi"}
    code, job = await api("jobs", method="POST", body=body)
    assert code == 201, job
    check(code, job, "/jobs", "post")
    assert (job["spec"]["cpus"], job["spec"]["memory"]) == (0.5, 256 * 2**20)
    await api(f"jobs/{job['id']}/cancel", method="POST", body={})


async def test_bad_cron_and_bad_schedule_actions(api: Any, server_root: Path) -> None:
    for cron in ("61 * * * *", "* * *", "every day", 5):
        code, reply = await api("job-schedules", method="POST", body={"cron": cron, "job": GOOD})
        assert (code, reply["field"]) == (400, "cron"), reply
    code, reply = await api("job-schedules", method="POST", body={"cron": "0 3 * * *"})
    assert (code, reply["field"]) == (400, "job")
    code, reply = await api("job-schedules/nope/pause", method="POST", body={})
    assert code == 404


async def test_a_notebook_without_parameters_cell_takes_parameters_only_when_not_strict(
    api: Any, server_root: Path
) -> None:
    body = {"notebook_path": "nb/bare.ipynb", "parameters": {"x": 1}}
    code, reply = await api("jobs", method="POST", body=body)
    assert (code, reply["field"]) == (400, "parameters.x")
    assert "no parameters cell" in reply["message"]
    code, job = await api("jobs", method="POST", body={**body, "strict": False})
    assert code == 201, job
    assert job["spec"]["parameters"] == {"x": 1}
    code, cancelled = await api(f"jobs/{job['id']}/cancel", method="POST", body={})
    assert code == 200
    assert cancelled["status"] == "CANCELLED"


async def test_job_form_lists_typed_parameters_and_says_when_there_is_no_parameters_cell(
    api: Any, check: Any, server_root: Path, server_services: Services
) -> None:
    code, form = await api("job-form/nb/train.ipynb")
    assert code == 200
    check(code, form, "/job-form/{notebook_path}", "get")
    assert form["has_parameters_cell"] is True
    assert [(p["name"], p["type"], p["value"]) for p in form["parameters"]] == [
        ("lr", "float", 0.05),
        ("epochs", "int", 3),
        ("name", "str", "x"),
        ("flag", "bool", False),
    ]
    assert form["parameters"][0]["help"] == "learning rate"
    assert (form["defaults"]["cpus"], form["defaults"]["gpus"]) == (1.0, 0)
    with server_services.db.session() as session:
        session.add(ResourceRequest(notebook_path="nb/train.ipynb", cpus=2, memory=2**30, gpus=0))
    code, form = await api("job-form/nb/train.ipynb")
    assert (form["defaults"]["cpus"], form["defaults"]["memory"]) == (2, 2**30)
    code, bare = await api("job-form/nb/bare.ipynb")
    assert code == 200
    assert bare["has_parameters_cell"] is False
    assert "injected at the top" in bare["note"]
    code, reply = await api("job-form/nb/broken.ipynb")
    assert (code, reply["field"]) == (400, "notebook_path")
    code, reply = await api("job-form/../x.ipynb")
    assert code in (400, 404)


async def test_submit_follow_events_logs_and_download_the_output(
    api: Any, check: Any, jp_fetch: Any, server_root: Path
) -> None:
    await submit_follow_and_rerun(api, check, jp_fetch, server_root)
