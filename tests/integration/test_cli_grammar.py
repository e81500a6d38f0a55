"""One CLI grammar: `labrig db` migrates as a separate step, and every command a text names (help
texts, messages, the README, the panel) exists with the options it shows.

Quantities and `jobs submit --wait`: ``jobs/test_cli_quantities_wait.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from labrig.cli import cli
from labrig.dataset_mounts.cache import DatasetCache, LocalDatasetCache
from labrig.resources.service import ResourceService
from labrig.settings import LabrigSettings

REPO = Path(__file__).parents[2]


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


# --- labrig db --------------------------------------------------------------------------------


def test_db_current_and_upgrade_as_a_separate_step() -> None:
    fresh = run("db", "current")
    assert fresh.exit_code == 0, fresh.output
    assert "revision: none (empty database; `labrig db upgrade` creates" in fresh.stdout
    assert run("db", "current").stdout == fresh.stdout  # reading it did not migrate it
    done = run("db", "upgrade")
    assert done.exit_code == 0, done.output
    assert re.search(r"upgraded from empty to \w+", done.stdout)
    assert "already at revision" in run("db", "upgrade").stdout
    state = json.loads(run("db", "current", "--json").stdout)
    assert state["up_to_date"] is True
    assert state["revision"] == state["head"]


def test_commands_do_not_migrate_when_migrate_on_start_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "jupyter_server_config.py"
    config.write_text("c.LabrigApp.migrate_on_start = False\n")
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    run("models", "ls")
    assert json.loads(run("db", "current", "--json").stdout)["revision"] is None
    assert run("db", "upgrade").exit_code == 0
    assert run("models", "ls").exit_code == 0


# --- every command a text names exists ----------------------------------------------------------


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command ``labrig WORDS...`` names, and the words after it."""
    command: click.Command = cli
    rest = list(words)
    while rest and isinstance(command, click.Group):
        sub = command.get_command(click.Context(command), rest[0])
        if sub is None:
            break
        command, rest = sub, rest[1:]
    return command, rest


def options_of(command: click.Command) -> set[str]:
    found = {"--help", "-h"}
    for param in command.params:
        found.update(getattr(param, "opts", []))
        found.update(getattr(param, "secondary_opts", []))
    return found


def check_mention(text: str, where: str) -> None:
    words = [w for w in re.split(r"\s+", text.strip()) if w]
    assert words[0] == "labrig", (text, where)
    command, rest = resolve(words[1:])
    if rest and re.fullmatch(r"[a-z][a-z-]*", rest[0]) and isinstance(command, click.Group):
        raise AssertionError(f"{where}: `{text}`: no command {rest[0]!r} in {command.name}")
    for word in rest:
        option = word.split("=", 1)[0]
        if option.startswith("-") and option not in options_of(command):
            raise AssertionError(f"{where}: `{text}`: {command.name} has no option {option}")


def mentions() -> list[tuple[str, str]]:
    """Every `labrig ...` in backticks or <code> in the sources, the README, docs and help."""
    found = []
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
    for folder in ("server_ext/labrig", "dataset_mounts/labrig", "kernels/labrig", "extension/src"):
        files += [
            p
            for p in sorted((REPO / folder).rglob("*"))
            if p.suffix in (".py", ".ts", ".tsx") and "labextension" not in p.parts
        ]
    pattern = re.compile(r"(?:`|<code>)(labrig(?: [^`<{]*)?)(?:`|</code>|\{)")
    for path in files:
        for match in pattern.finditer(path.read_text()):
            found.append((match.group(1).strip(), str(path.relative_to(REPO))))
    for cls in (LabrigSettings, ResourceService, DatasetCache, LocalDatasetCache):
        for name, trait in cls.class_own_traits(config=True).items():
            for match in re.finditer(r"`(labrig [^`]*)`", trait.help or ""):
                found.append((match.group(1), f"{cls.__name__}.{name} help"))
    return found


def test_texts_name_commands_that_exist() -> None:
    found = mentions()
    assert ("labrig db upgrade", "LabrigSettings.migrate_on_start help") in found
    for text, where in found:
        if text.startswith("labrig ") and not text.startswith("labrig:"):
            check_mention(text, where)


def test_the_cli_reference_is_the_cli_itself() -> None:
    """docs/cli.md is generated from the CLI's own help (tests/unit/test_readme.py checks that
    it is up to date): every command the CLI has is in it."""
    reference = (REPO / "docs" / "cli.md").read_text()

    def walk(command: click.Command, path: list[str]) -> None:
        assert f"## {' '.join(path)}\n" in reference, f"docs/cli.md lacks {' '.join(path)}"
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                sub = command.get_command(click.Context(command), name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(cli, ["labrig"])
