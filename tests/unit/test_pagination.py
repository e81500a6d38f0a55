from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from labrig import identity
from labrig.errors import InvalidInput
from labrig.services import Services
from labrig.store import PageRequest
from labrig.store.tables import Job, JobSchedule, ResourceRequest


@pytest.mark.parametrize(("raw", "expected"), [(None, 50), ("", 50), ("1", 1), ("500", 500)])
def test_limit_parses(raw: str | None, expected: int) -> None:
    assert PageRequest.parse(raw, None).limit == expected


@pytest.mark.parametrize("raw", ["0", "501", "-5", "abc", "2.0", " "])
def test_limit_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        PageRequest.parse(raw, None)
    assert caught.value.field == "limit"


def test_model_names_page_in_order(services: Services) -> None:
    names = [f"model-{i:03d}" for i in range(12)]
    for name in reversed(names):
        services.models.create({"name": name})
    first = services.models.list(PageRequest(limit=5))
    second = services.models.list(PageRequest(limit=5, page_token=first.next_page_token))
    third = services.models.list(PageRequest(limit=5, page_token=second.next_page_token))
    got = [m["name"] for page in (first, second, third) for m in page.items]
    assert got == names
    assert third.next_page_token is None


#: Names whose order differs between byte order (SQLite, PostgreSQL's C collation) and a
#: language collation (PostgreSQL's en_US): a page's range of names must hold either way.
MIXED_NAMES = ["b-net", "B_net2", "a.small", "A-large", "c", "C_final", "bnet"]


def test_model_pages_carry_each_models_own_aliases(
    on_each_database: str, services: Services, tmp_path: Path
) -> None:
    """A page reads its models' aliases by the range of its names: models just outside the
    page, on either side, keep theirs."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w")
    for name in MIXED_NAMES:
        services.models.create({"name": name})
    aliased = {"b-net": ["prod"], "a.small": ["prod", "staging"], "c": ["prod"], "bnet": ["x"]}
    for name, aliases in aliased.items():
        services.models.register(name, weights)
        for alias in aliases:
            services.models.set_alias(name, alias, 1)
    pages = [services.models.list(PageRequest(limit=2))]
    while pages[-1].next_page_token:
        pages.append(services.models.list(PageRequest(2, pages[-1].next_page_token)))
    listed = {m["name"]: m for page in pages for m in page.items}
    assert sorted(listed) == sorted(MIXED_NAMES)
    for name, model in listed.items():
        assert model["aliases"] == dict.fromkeys(aliased.get(name, []), 1)
        shown = services.models.get(name)
        shown.pop("version_count")
        assert model == shown


def test_dataset_pages_show_each_datasets_pinned_version(
    on_each_database: str, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list reads versions by the range of the page's names: each dataset shows its own
    pinned version, as ``get`` does, also beside another user's private dataset."""
    monkeypatch.chdir(tmp_path)  # the catalog's allowed root for file:// sources
    for index, name in enumerate(["a", "b", "c", "d"]):
        folder = tmp_path / name
        folder.mkdir()
        for item in range(index + 1):
            (folder / f"{item}.bin").write_bytes(b"x" * (item + 1))
        owner = "someone-else" if name == "b" else identity.process_user()
        with identity.acting_as(identity.Principal(owner)):
            services.datasets.create(
                {"name": name, "source_url": folder.as_uri(), "private": name == "b"}
            )
            if name != "c":
                services.datasets.warm(name)
    first = services.datasets.list(PageRequest(limit=2))
    second = services.datasets.list(PageRequest(2, first.next_page_token))
    listed = {d["name"]: d for d in [*first.items, *second.items]}
    assert list(listed) == ["a", "c", "d"]
    assert [(d["files"], d["bytes"], d["complete"]) for d in listed.values()] == [
        (1, 1, True),
        (None, None, False),
        (4, 10, True),
    ]
    for name, dataset in listed.items():
        shown = services.datasets.get(name)  # the list's fields, and more (the cache's)
        assert {k: shown[k] for k in dataset} == dataset


def test_job_list_items_are_what_get_shows(on_each_database: str, services: Services) -> None:
    """The list reads its columns as plain rows; each item is the job as ``get`` shows it."""
    now = datetime.now(UTC)
    with services.db.session() as session:
        for index in range(3):
            session.add(
                Job(
                    id=f"job-{index}",
                    name=f"run {index}",
                    notebook_path="train.ipynb",
                    status="FAILED",
                    reason="cell 2: ValueError",
                    created_at=now - timedelta(minutes=index),
                    started_at=now,
                    finished_at=now,
                    spec={"nodes": 2, "procs_per_node": 2, "parameters": {"lr": 0.1}},
                    snapshot_sha256="0" * 64,
                    output_path=f"out/job-{index}.ipynb",
                    dataset_versions={"imagenet": "abc"},
                    handle={"pid": 1},
                    finalized=True,
                    owner=identity.process_user(),
                )
            )
    first = services.jobs.list(PageRequest(limit=2))
    second = services.jobs.list(PageRequest(2, first.next_page_token))
    items = [*first.items, *second.items]
    assert [job["id"] for job in items] == ["job-0", "job-1", "job-2"]
    for job in items:
        shown = services.jobs.get(job["id"])
        shown.pop("ranks")
        assert job == shown
        assert job["world_size"] == 4


def test_schedule_and_resource_list_items_are_what_get_shows(
    on_each_database: str, services: Services
) -> None:
    """Both lists read every column as plain rows; each item is what ``get`` shows."""
    now = datetime.now(UTC)
    with services.db.session() as session:
        for index in range(3):
            session.add(
                JobSchedule(
                    id=f"schedule-{index}",
                    name=f"nightly {index}",
                    cron="0 3 * * *",
                    notebook_path="train.ipynb",
                    spec={"nodes": 1, "parameters": {"lr": 0.1}},
                    snapshot_sha256="0" * 64,
                    paused=index == 1,
                    created_at=now - timedelta(days=index),
                    last_occurrence=now - timedelta(hours=index),
                    owner=identity.process_user(),
                )
            )
            session.add(
                ResourceRequest(
                    notebook_path=f"notebook-{index}.ipynb",
                    cpus=1.5,
                    memory=2**30,
                    gpus=0,
                    disk=None if index else 2**30,
                    owner=identity.process_user(),
                )
            )
    first = services.jobs.list_schedules(PageRequest(limit=2))
    second = services.jobs.list_schedules(PageRequest(2, first.next_page_token))
    schedules = [*first.items, *second.items]
    assert [s["id"] for s in schedules] == ["schedule-0", "schedule-1", "schedule-2"]
    assert [s["next_run_at"] is None for s in schedules] == [False, True, False]
    for schedule in schedules:
        assert schedule == services.jobs.get_schedule(schedule["id"])
    first = services.resources.list(PageRequest(limit=2))
    second = services.resources.list(PageRequest(2, first.next_page_token))
    requests = [*first.items, *second.items]
    assert [r["notebook_path"] for r in requests] == [f"notebook-{i}.ipynb" for i in range(3)]
    for request in requests:
        assert request == services.resources.get(request["notebook_path"])
