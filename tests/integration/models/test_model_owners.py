"""Who may do what in the model registry, with alice, bob and an administrator: everyone reads
models, versions and their files; registering, moving aliases and deleting follow
``LabrigApp.model_register_policy`` / ``model_alias_policy`` / ``model_delete_policy`` over
REST, the CLI and the Python API alike (on SQLite and PostgreSQL: the package's conftest)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from identities import ADMIN, Caller, as_user_fixture, server_config_fixture

import labrig.models
from labrig import identity
from labrig.cli import cli
from labrig.errors import AccessDenied
from labrig.models import python_api
from labrig.services import Services

__all__ = ["as_user_fixture", "server_config_fixture"]

Users = Callable[[str], Caller]
FILE = b"weights" * 100


@pytest.fixture
def checkpoint(jp_root_dir: Path) -> Path:
    path = jp_root_dir / "runs" / "model.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(FILE)
    return path


async def register(caller: Caller, model: str = "m") -> tuple[int, Any]:
    result: tuple[int, Any] = await caller.api(
        f"models/{model}/versions", "POST", {"path": "runs/model.pt"}
    )
    return result


async def test_everyone_reads_and_downloads_only_the_owner_moves_aliases_and_deletes(
    as_user: Users, checkpoint: Path
) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    status, v1 = await register(alice)
    assert (status, v1["user"]) == (201, "alice")
    status, model = await bob.api("models/m")
    assert (status, model["owner"]) == (200, "alice")
    assert (await bob.api("models"))[1]["items"][0]["owner"] == "alice"
    assert (await bob.api("models/m/versions/1"))[1]["user"] == "alice"
    download = await bob.fetch(
        "labrig", "api", "v1", "models", "m", "versions", "1", "files", "model.pt"
    )
    assert (download.code, download.body) == (200, FILE)

    # Registering is anyone's by default; the model stays alice's.
    status, v2 = await register(bob)
    assert (status, v2["user"]) == (201, "bob")
    assert (await alice.api("models/m"))[1]["owner"] == "alice"

    status, refused = await bob.api("models/m/aliases/production", "PUT", {"version": 2})
    assert status == 403, refused
    assert "alice" in refused["message"]
    assert "model_alias_policy" in refused["message"]
    assert (await alice.api("models/m/aliases/production", "PUT", {"version": 1}))[0] == 200
    assert (await bob.api("models/m/aliases/production", "DELETE"))[0] == 403
    status, history = await bob.api("models/m/alias-history")
    assert [(e["user"], e["to_version"]) for e in history["items"]] == [("alice", 1)]

    # A version may go by its model's owner or its registrant, not by anyone else.
    status, refused = await bob.api("models/m/versions/1", "DELETE")
    assert status == 403
    assert "model_delete_policy" in refused["message"]
    assert (await bob.api("models/m/versions/2", "DELETE"))[0] == 204
    assert (await bob.api("models/m", "DELETE"))[0] == 403
    assert (await admin.api("models/m/aliases/production", "DELETE"))[0] == 204
    assert (await admin.api("models/m", "DELETE"))[0] == 204
    assert (await alice.api("models/m"))[0] == 404


@pytest.mark.parametrize(
    "jp_server_config",
    [{"labrig": {"model_register_policy": "owner", "model_alias_policy": "anyone"}}],
    indirect=True,
    ids=["register-owner-alias-anyone"],
)
async def test_owner_only_registration_and_aliases_for_anyone(
    as_user: Users, checkpoint: Path
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    assert (await register(alice))[0] == 201
    status, refused = await register(bob)
    assert status == 403
    assert "model_register_policy" in refused["message"]
    assert (await alice.api("models/m"))[1]["version_count"] == 1
    # A new model is bob's to start, and its first version makes him its owner.
    assert (await register(bob, "bobs"))[0] == 201
    assert (await alice.api("models/bobs"))[1]["owner"] == "bob"
    assert (await bob.api("models/m/aliases/staging", "PUT", {"version": 1}))[0] == 200


@pytest.mark.parametrize(
    "jp_server_config",
    [{"labrig": {"model_register_policy": "admins", "model_delete_policy": "admins"}}],
    indirect=True,
    ids=["register-admins-delete-admins"],
)
async def test_admins_only_policies_refuse_even_the_owner(as_user: Users, checkpoint: Path) -> None:
    alice, admin = as_user("alice"), as_user(ADMIN)
    status, refused = await register(alice)
    assert status == 403
    assert "only administrators" in refused["message"]
    assert (await alice.api("models", "POST", {"name": "empty"}))[0] == 403
    assert (await register(admin))[0] == 201
    assert (await alice.api("models/m"))[1]["owner"] == ADMIN
    assert (await admin.api("models/m/versions/1", "DELETE"))[0] == 204
    assert (await register(admin))[0] == 201
    assert (await alice.api("models/m/versions/2", "DELETE"))[0] == 403


@pytest.mark.parametrize(
    ("jp_server_config", "bob_is_admin"),
    [
        (
            {"labrig": {"admins_from_authorizer": True}, "authorizer": {"grant_admin": ["bob"]}},
            True,
        ),
        ({"authorizer": {"grant_admin": ["bob"]}}, False),
    ],
    indirect=["jp_server_config"],
    ids=["admins-from-authorizer", "authorizer-not-asked"],
)
async def test_the_authorizer_makes_administrators_when_asked_to(
    as_user: Users, checkpoint: Path, bob_is_admin: bool
) -> None:
    assert (await register(as_user("alice")))[0] == 201
    status, _ = await as_user("bob").api("models/m/aliases/p", "PUT", {"version": 1})
    assert status == (200 if bob_is_admin else 403)


# -- the CLI and the Python API act as $LABRIG_USER -------------------------------------------


@pytest.fixture
def admins_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The configuration the CLI and ``import labrig`` read, naming the administrator."""
    config = tmp_path / "jupyter_server_config.json"
    config.write_text(json.dumps({"LabrigApp": {"admin_users": [ADMIN]}}))
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    python_api.reset()
    yield
    python_api.reset()


def labrig_cli(user: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={identity.USER_ENV: user})
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_and_the_python_api_record_and_obey_their_user(
    admins_config: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(FILE)
    code, out, err = labrig_cli("alice", "models", "register", "m", str(ckpt), "--json")
    assert code == 0, err
    assert json.loads(out)["user"] == "alice"

    code, _, err = labrig_cli("bob", "models", "alias", "m", "production", "1")
    assert code == 1
    assert "alice" in err
    assert "model_alias_policy" in err
    code, _, err = labrig_cli("bob", "models", "rm", "m/1", "--yes")
    assert code == 1
    assert "model_delete_policy" in err

    monkeypatch.setenv(identity.USER_ENV, "bob")
    assert labrig.models.register("m", ckpt)["user"] == "bob"
    assert labrig.models.load("m/1").read_bytes() == FILE  # readable by all
    with pytest.raises(AccessDenied, match="model_alias_policy"):
        labrig.models.open_registry().set_alias("m", "production", 1)
    labrig.models.open_registry().delete_version("m", 2)  # his own version

    code, out, err = labrig_cli(ADMIN, "models", "alias", "m", "production", "1", "--json")
    assert code == 0, err
    code, out, _ = labrig_cli("bob", "models", "history", "m", "--json")
    assert [e["user"] for e in json.loads(out)["items"]] == [ADMIN]
    code, out, _ = labrig_cli("bob", "models", "ls", "--json")
    assert json.loads(out)["items"][0]["owner"] == "alice"
    code, out, _ = labrig_cli("bob", "models", "ls")
    header, row = out.splitlines()
    assert dict(zip(header.split(), row.split(), strict=False))["OWNER"] == "alice"


def test_a_jobs_outputs_are_its_owners_whatever_a_rank_staged(
    services: Services, tmp_path: Path
) -> None:
    output = tmp_path / "out.bin"
    output.write_bytes(FILE)
    staged = {"name": "m", "path": str(output), "user": "mallory", "lineage": {"user": "mallory"}}
    job = {"job_id": "j1", "user": "alice"}  # what the server knows of the job
    (version,) = services.models.register_job_outputs("j1", 0, [staged], job)
    assert (version["user"], version["lineage"]["user"]) == ("alice", "alice")
    assert services.models.get("m")["owner"] == "alice"
