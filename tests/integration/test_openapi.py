"""The handlers and labrig/openapi.yaml describe the same API, and every answer fits it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from labrig.handlers import ROUTES
from labrig.jobs.runtime import snapshot_path
from labrig.services import Services
from labrig.store.tables import Dataset, Job, JobSchedule, ResourceRequest

SPEC: dict[str, Any] = yaml.safe_load(files("labrig").joinpath("openapi.yaml").read_text())
VERBS = ("get", "post", "put", "patch", "delete")
SNAPSHOT = "5" * 64


def resolve(node: Any) -> Any:
    """Inline every $ref, so each response schema validates on its own."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = SPEC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item) for item in node]
    return node


def spec_path(route: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)


def handler_verbs(handler: type) -> set[str]:
    return {verb for verb in VERBS if verb in vars(handler)}


def test_spec_is_valid_openapi() -> None:
    validate(SPEC)


def test_every_route_is_documented_and_every_documented_path_is_routed() -> None:
    routed = {"/" + spec_path(route): handler_verbs(handler) for route, handler in ROUTES}
    documented = {path: set(ops) & set(VERBS) for path, ops in SPEC["paths"].items()}
    assert routed == documented


def check(status: int, body: Any, path: str, verb: str) -> None:
    responses = SPEC["paths"][path][verb]["responses"]
    assert str(status) in responses, f"{verb.upper()} {path} answered an undocumented {status}"
    schema = resolve(responses[str(status)])["content"]["application/json"]["schema"]
    OAS30Validator(schema).validate(body)


def seed(services: Services, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with services.db.session() as session:
        session.add(ResourceRequest(notebook_path="nb/train.ipynb", cpus=2, memory=2**31, gpus=0))
        session.add(Dataset(name="mnist-mini", source_url="file:///data/mnist", options={}))
        session.add(
            Job(
                id="job-1",
                name="train",
                notebook_path="nb/train.ipynb",
                created_at=now,
                snapshot_sha256=SNAPSHOT,
            )
        )
        session.add(
            JobSchedule(
                id="sched-1",
                name="nightly",
                cron="0 3 * * *",
                notebook_path="nb/train.ipynb",
                snapshot_sha256="0" * 64,
                created_at=now,
                last_occurrence=now,
            )
        )
    notebook = services.jobs.root_dir / "nb" / "train.ipynb"
    notebook.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text(json.dumps(nbformat.v4.new_notebook()))
    snapshot = snapshot_path(services.jobs.data_dir, SNAPSHOT)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.write_text(notebook.read_text())
    services.models.create({"name": "resnet-mini", "description": "tiny", "tags": {"a": "b"}})
    (tmp_path / "model.bin").write_bytes(b"weights")
    services.models.register("resnet-mini", tmp_path / "model.bin", metrics={"acc": 0.5})
    services.models.set_alias("resnet-mini", "production", 1)


EXISTING = {
    "notebook_path": "nb/train.ipynb",
    "name": "mnist-mini",
    "job_id": "job-1",
    "version": "1",
    "alias": "production",
    "path": "model.bin",
    "schedule_id": "sched-1",
    "sha256": SNAPSHOT,
}


def concrete(path: str, existing: bool) -> str:
    def value(match: re.Match[str]) -> str:
        param = match.group(1)
        if not existing:
            return "does-not-exist"
        if param == "name" and path.startswith("/models"):
            return "resnet-mini"
        return EXISTING[param]

    return re.sub(r"\{(\w+)\}", value, path)


def answers_json(path: str) -> bool:
    """GETs answering JSON (event streams and file downloads are tested where they live)."""
    ok = SPEC["paths"][path]["get"]["responses"]["200"]
    return "application/json" in resolve(ok)["content"]


@pytest.mark.parametrize(
    "path", sorted(p for p in SPEC["paths"] if "get" in SPEC["paths"][p] and answers_json(p))
)
async def test_every_get_answers_in_the_documented_shape(
    api: Any, server_services: Services, path: str, tmp_path: Path
) -> None:
    empty_status, empty_body = await api(concrete(path, existing=False).lstrip("/"))
    check(empty_status, empty_body, path, "get")
    seed(server_services, tmp_path)
    status, body = await api(concrete(path, existing=True).lstrip("/"))
    assert status == 200, body
    check(status, body, path, "get")
    if "items" in body:
        assert body["items"], f"{path} listed nothing after seeding"


async def test_post_models_answers_in_the_documented_shapes(api: Any) -> None:
    good = {"name": "resnet-mini", "description": "a small resnet", "tags": {"task": "cls"}}
    for body, expected in [(good, 201), (good, 409), ({"name": "../etc"}, 400)]:
        status, reply = await api("models", method="POST", body=body)
        assert status == expected, reply
        check(status, reply, "/models", "post")
