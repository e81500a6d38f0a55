"""Bugs the API fuzz run found, each with a direct test (authentication on, two users):

- cancelling the warm-up of a dataset the caller cannot see is a documented 404 (56dc02f);
- a 405 lists the verbs its route answers in ``Allow`` (fe7dced);
- an unknown schedule action, and a repeated or empty page parameter, are a 400 in JSON rather
  than Jupyter's HTML page or a silently chosen value (c190650).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from identities import API, Caller, as_user_fixture, server_config
from test_auth import CASES, example_url
from tornado.httpclient import HTTPResponse

__all__ = ["as_user_fixture"]

Users = Callable[[str], Caller]
SPEC: dict[str, Any] = yaml.safe_load(files("labrig").joinpath("openapi.yaml").read_text())
LIST_SECTIONS = ("resources", "datasets", "jobs", "job-schedules", "models")


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path) -> dict[str, Any]:
    config = server_config(labrig_env, {"local_dataset_roots": [str(tmp_path / "sources")]})
    config["LocalDatasetCache"] = {"mount_root": str(tmp_path / "mounts")}
    return config


def json_reply(response: HTTPResponse) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.body
    reply: dict[str, Any] = json.loads(response.body)
    return reply


# -- 56dc02f: cancelling a warm-up nobody may see --------------------------------------------


def documented_statuses(path: str, method: str) -> set[int]:
    responses = SPEC["paths"][path][method.lower()]["responses"]
    return {int(code) for code in responses}


async def test_cancelling_the_warm_up_of_a_dataset_the_caller_cannot_see_is_a_documented_404(
    as_user: Users, tmp_path: Path
) -> None:
    source = tmp_path / "sources" / "secret"
    source.mkdir(parents=True)
    (source / "a.txt").write_text("a")
    body = {"name": "secret-ds", "source_url": source.as_uri(), "private": True}
    assert (await as_user("alice").api("datasets", "POST", body))[0] == 201
    bob = as_user("bob")
    hidden = await bob.fetch(*API, "datasets/secret-ds/warm", method="DELETE")
    never = await bob.fetch(*API, "datasets/never-used/warm", method="DELETE")
    assert hidden.code == never.code == 404
    assert json_reply(hidden)["message"] == json_reply(never)["message"].replace(
        "never-used", "secret-ds"
    )
    assert 404 in documented_statuses("/datasets/{name}/warm", "DELETE")


# -- fe7dced: a 405 says which verbs the route answers ----------------------------------------


#: Each route with a verb it does not answer, and those it does (Jupyter's APIHandler answers
#: OPTIONS, the CORS preflight, on every route).
UNANSWERED = [
    (route, verb, sorted({method for r, method in CASES if r == route} | {"OPTIONS"}))
    for route in sorted({route for route, _ in CASES})
    for verb in ("PATCH", "PUT", "DELETE")
    if (route, verb) not in CASES
]


async def test_a_405_lists_the_verbs_the_route_answers_in_allow(as_user: Users) -> None:
    assert len(UNANSWERED) > len({route for route, _ in CASES})
    for route, verb, answered in UNANSWERED:
        body = "{}" if verb in ("PUT", "PATCH") else None
        response = await as_user("alice").fetch(example_url(route), method=verb, body=body)
        assert response.code == 405, (route, verb, response.body)
        assert json_reply(response)["reason"]
        assert sorted(response.headers.get("Allow", "").split(", ")) == answered, (route, verb)


# -- c190650: unknown schedule actions and odd page parameters are 400 in JSON ---------------


async def test_an_unknown_schedule_action_is_a_400_naming_the_actions(
    as_user: Users, jp_root_dir: Path
) -> None:
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "t.ipynb")
    alice = as_user("alice")
    body = {"cron": "0 3 * * *", "paused": True, "job": {"notebook_path": "t.ipynb"}}
    status, schedule = await alice.api("job-schedules", "POST", body)
    assert status == 201, schedule
    for action in ("explode", "PAUSE", "run-now"):
        response = await alice.fetch(
            *API, f"job-schedules/{schedule['id']}/{action}", method="POST", body="{}"
        )
        reply = json_reply(response)
        assert (response.code, reply["field"]) == (400, "action"), reply
        assert f"no schedule action {action!r}; use one of pause, resume, run" in reply["message"]
    status, same = await alice.api(f"job-schedules/{schedule['id']}")
    assert (status, same["paused"]) == (200, True)


#: Each odd page parameter, the field a 400 names and what its message says.
ODD_PAGE_PARAMETERS = [
    ([("limit", "1"), ("limit", "2")], "limit", "limit was given 2 times; give it once"),
    (
        [("page_token", "a"), ("page_token", "b")],
        "page_token",
        "page_token was given 2 times; give it once",
    ),
    ([("limit", "")], "limit", "limit is empty"),
    ([("limit", " ")], "limit", "limit is empty"),
    ([("page_token", "")], "page_token", "page_token is empty"),
]


async def test_a_repeated_or_empty_page_parameter_is_a_400_naming_it(as_user: Users) -> None:
    for section in LIST_SECTIONS:
        for query, field, says in ODD_PAGE_PARAMETERS:
            response = await as_user("bob").fetch(*API, section, params=query)
            reply = json_reply(response)
            assert (response.code, reply["field"]) == (400, field), (section, query, reply)
            assert says in reply["message"], (section, query, reply)
        response = await as_user("bob").fetch(*API, section, params={"limit": "2"})
        assert response.code == 200, (section, response.body)  # the same list, asked once
