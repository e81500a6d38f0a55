"""The CLI works on the same services as the server: same state, same messages."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from labrig.cli import cli
from labrig.services import Services


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def every_command(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, the lazily imported sections' included."""
    found = [prefix]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += every_command(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", every_command(cli))
def test_help_everywhere(path: tuple[str, ...]) -> None:
    code, out, _ = run(*path, "--help")
    assert code == 0
    assert "Usage: " in out


def test_status_json_reports_backends_and_migrated_database() -> None:
    code, out, _ = run("status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["backends"]["jobs"] == "local"
    assert status["database"]["revision"] is not None


def test_cli_and_services_share_state(services: Services) -> None:
    services.models.create({"name": "from-python", "description": "made in a notebook"})
    code, out, _ = run("models", "ls", "--json")
    assert code == 0
    assert [m["name"] for m in json.loads(out)["items"]] == ["from-python"]
    code, out, _ = run("models", "create", "from-cli", "--tag", "team=vision")
    assert code == 0
    assert services.models.get("from-cli")["tags"] == {"team": "vision"}


def test_empty_lists_say_what_to_do() -> None:
    code, out, _ = run("datasets", "ls")
    assert code == 0
    assert "No datasets yet" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "show", "missing"), "no model named 'missing'"),
        (("models", "create", "bad/name"), "is not allowed"),
        (("jobs", "ls", "--limit", "0"), "limit must be a whole number"),
        (("jobs", "ls", "--page-token", "zzz"), "page_token is not one this server issued"),
    ],
)
def test_errors_are_one_line_and_non_zero(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("labrig: error")
    assert message in err


def test_a_duplicate_model_is_refused(services: Services) -> None:
    services.models.create({"name": "twice"})
    code, _, err = run("models", "create", "twice")
    assert code == 1
    assert "already exists" in err


def test_unusable_database_url_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABRIG_DATABASE_URL", "not a url")
    code, _, err = run("status")
    assert code == 1
    assert "is not a SQLAlchemy URL" in err
