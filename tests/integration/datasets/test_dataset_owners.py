"""Datasets and their owners, with alice, bob and an administrator: a user-added dataset is its
owner's to remove, refresh and re-pin; a shared one anyone may warm and mount; a private one
does not exist for anyone else (the same 404 as a name nobody uses) over REST, the CLI and the
Python API (on SQLite and PostgreSQL: the package's conftest)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner
from dataset_servers import make_files, write_tree
from identities import ADMIN, Caller, as_user_fixture, server_config

import labrig.datasets as ds
from labrig import identity
from labrig.cli import cli
from labrig.errors import NotFound

__all__ = ["as_user_fixture"]

Users = Callable[[str], Caller]
FILES = make_files(4, 10_000, seed=83)


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, str]:
    """Three file:// sources: alice's private one, alice's shared one, the administrator's."""
    urls = {}
    for name in ("secret", "team", "catalog"):
        write_tree(tmp_path / "sources" / name, FILES)
        urls[name] = (tmp_path / "sources" / name).as_uri() + "/"
    return urls


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path, sources: dict[str, str]) -> dict[str, Any]:
    config = server_config(labrig_env)
    config["LabrigApp"]["local_dataset_roots"] = [str(tmp_path / "sources")]
    config["LocalDatasetCache"] = {
        "mount_root": str(tmp_path / "mounts"),
        "workers": 2,
        "datasets": [{"name": "catalog-ds", "source_url": sources["catalog"]}],
    }
    return config


async def warmed(caller: Caller, name: str) -> dict[str, Any]:
    status, body = await caller.api(f"datasets/{name}/warm", "POST", {})
    assert status == 202, body
    for _ in range(600):
        status, body = await caller.api(f"datasets/{name}/warm")
        if body["state"] not in ("listing", "running"):
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the warm-up of {name} did not finish")


#: Every request on one dataset, as (method, path under datasets/<name>, body).
EVERY_ACTION = [
    ("GET", "", None),
    ("DELETE", "", None),
    ("GET", "/warm", None),
    ("POST", "/warm", {}),
    ("DELETE", "/warm", None),
    ("POST", "/refresh", {}),
    ("POST", "/refresh/confirm", {"version": "v"}),
    ("POST", "/mount", {}),
    ("DELETE", "/mount", None),
]


async def test_a_private_dataset_is_not_there_for_anyone_else(
    as_user: Users, sources: dict[str, str], jp_root_dir: Path
) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    body = {"name": "secret-ds", "source_url": sources["secret"], "private": True}
    status, created = await alice.api("datasets", "POST", body)
    assert status == 201, created
    assert (created["owner"], created["private"]) == ("alice", True)
    assert (await alice.api("datasets", "POST", {**body, "name": "x", "private": "yes"}))[0] == 400

    listed = [d["name"] for d in (await bob.api("datasets"))[1]["items"]]
    assert listed == ["catalog-ds"]
    status, taken = await bob.api("datasets", "POST", {**body, "private": False})
    assert (status, taken["message"]) == (
        409,
        "the dataset name 'secret-ds' is taken; pick another",
    )
    for method, action, payload in EVERY_ACTION:
        guessed = await bob.api(f"datasets/secret-ds{action}", method, payload)
        never = await bob.api(f"datasets/never-used{action}", method, payload)
        assert guessed[0] == never[0] == 404, (method, action, guessed)
        assert guessed[1]["message"] == never[1]["message"].replace("never-used", "secret-ds")
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "t.ipynb")
    jobs = [
        await bob.api("jobs", "POST", {"notebook_path": "t.ipynb", "datasets": [name]})
        for name in ("secret-ds", "never-used")
    ]
    assert jobs[0][0] == jobs[1][0] == 400, jobs  # a job cannot name it either
    assert jobs[0][1]["message"] == jobs[1][1]["message"].replace("never-used", "secret-ds")

    assert (await warmed(alice, "secret-ds"))["state"] == "succeeded"
    status, mounted = await alice.api("datasets/secret-ds/mount", "POST", {})
    assert status == 200, mounted
    assert (Path(mounted["path"]) / "part-0001.bin").read_bytes() == FILES["part-0001.bin"]
    assert [d["name"] for d in (await admin.api("datasets"))[1]["items"]] == [
        "catalog-ds",
        "secret-ds",
    ]
    assert (await admin.api("datasets/secret-ds"))[1]["owner"] == "alice"
    assert (await admin.api("datasets/secret-ds", "DELETE"))[0] == 204


async def test_a_shared_dataset_is_everyones_to_use_and_its_owners_to_change(
    as_user: Users, sources: dict[str, str]
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    body = {"name": "team-ds", "source_url": sources["team"]}
    assert (await alice.api("datasets", "POST", body))[0] == 201
    shown = (await bob.api("datasets/team-ds"))[1]
    assert (shown["owner"], shown["private"]) == ("alice", False)
    assert (await warmed(bob, "team-ds"))["state"] == "succeeded"
    assert (await bob.api("datasets/team-ds/mount", "POST", {}))[0] == 200

    for method, action, payload in [
        ("DELETE", "", None),
        ("POST", "/refresh", {}),
        ("POST", "/refresh/confirm", {"version": "v"}),
    ]:
        status, refused = await bob.api(f"datasets/team-ds{action}", method, payload)
        assert status == 403, (method, action, refused)
        assert "added by alice" in refused["message"]
    status, diff = await alice.api("datasets/team-ds/refresh", "POST", {})
    assert (status, diff["changed"]) == (200, False)
    assert (await alice.api("datasets/team-ds", "DELETE"))[0] == 204

    # The administrator's catalog datasets are everyone's.
    catalog = (await bob.api("datasets/catalog-ds"))[1]
    assert (catalog["admin"], catalog["owner"]) == (True, None)
    assert (await bob.api("datasets/catalog-ds/refresh", "POST", {}))[0] == 200


async def test_a_host_mount_is_moved_or_removed_only_by_who_made_it_the_owner_or_an_admin(
    as_user: Users, sources: dict[str, str], tmp_path: Path
) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    assert (await warmed(bob, "catalog-ds"))["state"] == "succeeded"
    status, mounted = await bob.api("datasets/catalog-ds/mount", "POST", {})
    assert status == 200, mounted
    assert (await alice.api("datasets/catalog-ds"))[1]["mounted_by"] == "bob"
    elsewhere = str(tmp_path / "mounts" / "elsewhere")
    for method, payload in [("DELETE", None), ("POST", {"path": elsewhere})]:
        status, refused = await alice.api("datasets/catalog-ds/mount", method, payload)
        assert status == 403, (method, refused)
        assert "bob mounted it" in refused["message"]
    # Nothing moved: every kernel still reads it where bob put it.
    assert (await alice.api("datasets/catalog-ds"))[1]["mount_path"] == mounted["path"]
    assert (Path(mounted["path"]) / "part-0001.bin").read_bytes() == FILES["part-0001.bin"]
    # Mounting it again where it is changes nothing, so anyone may.
    assert (await alice.api("datasets/catalog-ds/mount", "POST", {}))[0] == 200
    assert (await admin.api("datasets/catalog-ds/mount", "DELETE"))[0] == 200

    # A user-added dataset's owner may move a mount someone else made.
    body = {"name": "team-ds", "source_url": sources["team"]}
    assert (await alice.api("datasets", "POST", body))[0] == 201
    assert (await warmed(bob, "team-ds"))["state"] == "succeeded"
    assert (await bob.api("datasets/team-ds/mount", "POST", {}))[0] == 200
    status, moved = await alice.api("datasets/team-ds/mount", "POST", {"path": elsewhere})
    assert (status, moved["path"]) == (200, elsewhere)
    assert (await alice.api("datasets/team-ds"))[1]["mounted_by"] == "alice"


# -- the CLI and the Python API act as $LABRIG_USER -------------------------------------------


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """What the CLI and ``import labrig`` read: the administrator and where mounts go."""
    config = tmp_path / "jupyter_server_config.json"
    mounts = tmp_path / "cli-mounts"
    config.write_text(
        json.dumps(
            {
                "LabrigApp": {
                    "admin_users": [ADMIN],
                    "local_dataset_roots": [str(tmp_path / "sources")],
                },
                "DatasetCache": {"mount_root": str(mounts)},
            }
        )
    )
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    ds._catalog.cache_clear()
    yield mounts
    ds._catalog.cache_clear()


def labrig_cli(user: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={identity.USER_ENV: user})
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_and_the_python_api_keep_a_private_dataset_to_its_owner(
    cli_config: Path, sources: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = labrig_cli(
        "alice", "datasets", "add", "secret-ds", sources["secret"], "--private", "--json"
    )
    assert code == 0, err
    assert (json.loads(out)["owner"], json.loads(out)["private"]) == ("alice", True)
    assert labrig_cli("alice", "datasets", "add", "team-ds", sources["team"])[0] == 0

    code, _, err = labrig_cli("bob", "datasets", "show", "secret-ds")
    assert (code, "no dataset named 'secret-ds'" in err) == (1, True)
    code, out, _ = labrig_cli("bob", "datasets", "ls", "--json")
    assert [d["name"] for d in json.loads(out)["items"]] == ["team-ds"]
    code, out, _ = labrig_cli("alice", "datasets", "ls")
    assert [(line.split()[0], *line.split()[-2:]) for line in out.splitlines()] == [
        ("NAME", "OWNER", "PRIVATE"),
        ("secret-ds", "alice", "True"),
        ("team-ds", "alice", "False"),
    ]
    code, _, err = labrig_cli("bob", "datasets", "rm", "team-ds")
    assert (code, "added by alice" in err) == (1, True)

    monkeypatch.setenv(identity.USER_ENV, "alice")
    ds.warm("secret-ds", progress=False)
    ds.warm("team-ds", progress=False)
    secret = ds.path("secret-ds")
    assert (secret / "part-0002.bin").read_bytes() == FILES["part-0002.bin"]
    team = ds.path("team-ds")
    assert set(ds.kernel_env_for()) == {"LABRIG_DATASET_SECRET_DS", "LABRIG_DATASET_TEAM_DS"}

    monkeypatch.setenv(identity.USER_ENV, "bob")
    for guess in (ds.path, ds.version, ds.show, ds.warm):
        with pytest.raises(NotFound, match="no dataset named 'secret-ds'"):
            guess("secret-ds")
    with pytest.raises(FileNotFoundError):
        ds.open("secret-ds", "part-0002.bin")
    assert ds.path("team-ds") == team
    # A kernel of bob's does not see alice's private mount in its environment either.
    assert set(ds.kernel_env_for()) == {"LABRIG_DATASET_TEAM_DS"}

    added = ds.add("bobs-ds", sources["catalog"], private=True)
    assert (added["owner"], added["private"]) == ("bob", True)
    monkeypatch.setenv(identity.USER_ENV, "alice")
    with pytest.raises(NotFound, match="no dataset named 'bobs-ds'"):
        ds.show("bobs-ds")

    code, _, err = labrig_cli(ADMIN, "datasets", "rm", "secret-ds")
    assert code == 0, err
    assert labrig_cli("alice", "datasets", "show", "secret-ds")[0] == 1
