"""Bad input gets a 4xx with a message that names the field, never a 500; pages chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from labrig.services import Services
from labrig.store.tables import Job


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ('["a list"]', "body"),
        ("", "body"),
        ({"description": "no name"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "<script>alert(1)</script>"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "ok", "tags": ["not", "a", "map"]}, "tags"),
        ({"name": "ok", "description": 3}, "description"),
        ({"name": "ok", "colour": "blue"}, "colour"),
    ],
)
async def test_bad_model_bodies_are_400_with_the_field(api: Any, body: Any, field: str) -> None:
    status, reply = await api("models", method="POST", body=body)
    assert status == 400
    assert reply["field"] == field
    assert reply["reason"] == "invalid_input"
    assert reply["message"]
    assert "Traceback" not in reply["message"]
    assert (await api("models"))[1]["items"] == []


@pytest.mark.parametrize("limit", ["0", "-1", "501", "ten", "1.5"])
@pytest.mark.parametrize("section", ["resources", "datasets", "jobs", "models"])
async def test_bad_limit_is_400(api: Any, section: str, limit: str) -> None:
    status, reply = await api(section, limit=limit)
    assert status == 400
    assert reply["field"] == "limit"
    assert "1 to 500" in reply["message"]


@pytest.mark.parametrize("token", ["!!!", "bm90IGpzb24", "WzEsMiwzXQ", "W3siYSI6MX1d"])
async def test_bad_page_token_is_400(api: Any, token: str) -> None:
    status, reply = await api("models", page_token=token)
    assert status == 400
    assert reply["field"] == "page_token"


async def test_unknown_objects_are_404_with_a_hint(api: Any) -> None:
    status, reply = await api("models/nope")
    assert status == 404
    assert "labrig models ls" in reply["message"]


async def test_pages_chain_without_gaps_or_repeats(api: Any, server_services: Services) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with server_services.db.session() as session:
        for i in range(23):
            # pairs share a timestamp, so the id breaks ties
            created = start + timedelta(minutes=i // 2)
            session.add(
                Job(id=f"job-{i:02d}", name="n", notebook_path="a.ipynb", created_at=created)
            )
    seen: list[str] = []
    token = None
    while True:
        params = {"limit": "5"} | ({"page_token": token} if token else {})
        status, page = await api("jobs", **params)
        assert status == 200
        seen += [job["id"] for job in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert len(seen) == 23
    assert len(set(seen)) == 23
    created = [int(job_id[4:]) // 2 for job_id in seen]
    assert created == sorted(created, reverse=True)
