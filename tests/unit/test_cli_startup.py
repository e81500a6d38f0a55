"""The CLI and the Python API start fast: each command imports and probes only what it uses.

Each check runs in a fresh interpreter (``sys.modules`` of this test process holds everything)
and asserts on what that process imported or ran, so a new top-level import of a heavy module
in the wrong place fails here. Timings live in ``bench/bench_cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from labrig import cli as cli_module

#: Modules no command needs just to start: parsing notebooks, the schema validator and its IRI
#: grammar, the ORM, migrations, the model store's filesystems, torch, the Jupyter server.
HEAVY = (
    "nbformat",
    "papermill",
    "jsonschema",
    "rfc3987_syntax",
    "sqlalchemy",
    "alembic",
    "fsspec",
    "torch",
    "jupyter_server",
    "tornado",
)


def imported_by(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> set[str]:
    """The top-level names of the modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, sys as _sys
        from labrig._lazy_iri import _Deferred as _Stand_in  # not imported: standing in
        _names = {m.split(".")[0] for m, v in _sys.modules.items() if not isinstance(v, _Stand_in)}
        print("\\nMODULES=" + _json.dumps(sorted(_names)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def run_cli(*args: str) -> str:
    return (
        "from labrig.cli import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, prog_name='labrig')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )


def test_help_imports_no_section_and_nothing_heavy() -> None:
    sections = sorted(module for module, _attr, _help in cli_module.SECTIONS.values())
    modules = imported_by(
        run_cli("--help")
        + "import sys\n"
        + f"assert not [m for m in {sections!r} if m in sys.modules], 'a section was imported'\n"
        + "assert 'labrig.services' not in sys.modules\n"
    )
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_importing_labrig_and_its_cli_is_light() -> None:
    modules = imported_by("import labrig, labrig.cli, labrig.models, labrig.resources")
    assert not modules & {"nbformat", "jsonschema", "sqlalchemy", "torch", "alembic"}
    modules = imported_by("import labrig.datasets, labrig.jobs.service")
    assert not modules & {"nbformat", "jsonschema", "papermill", "torch", "alembic"}


def test_jobs_ls_opens_the_database_only(tmp_path: Path) -> None:
    """No migrations run on a database at this labrig's revision (no Alembic), no notebook
    parsing, no GPU discovery: a fake nvidia-smi first on PATH records every call."""
    calls = tmp_path / "nvidia-smi-calls"
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho called >> {calls}\nexit 1\n")
    fake.chmod(0o755)
    env = {
        "LABRIG_DATA_DIR": str(tmp_path / "state"),
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
    }
    # A first command creates and migrates the database (that one imports Alembic).
    first = imported_by(run_cli("jobs", "ls"), env, cwd=tmp_path)
    assert "alembic" in first
    modules = imported_by(run_cli("jobs", "ls"), env, cwd=tmp_path)
    assert "sqlalchemy" in modules
    unwanted = {"alembic", "nbformat", "papermill", "jsonschema", "fsspec", "torch", "pynvml"}
    assert not modules & unwanted, sorted(modules & unwanted)
    assert not modules & {"jupyter_server", "tornado"}
    assert not calls.exists(), "jobs ls probed the GPUs"
    # The fake is on the PATH a probe would use: building the job capacity does call it.
    imported_by(
        "from labrig.jobs.capacity import HostCapacity\n"
        f"HostCapacity(__import__('pathlib').Path({str(tmp_path / 'cap')!r})).totals\n",
        env,
    )
    assert calls.exists()


def test_the_python_api_registers_without_the_job_or_dataset_sections(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\0" * 1024)
    state = {"LABRIG_DATA_DIR": str(tmp_path / "state")}
    register = (
        "import labrig.models, sys\n"
        f"labrig.models.register('startup', {str(tmp_path / 'weights.bin')!r})\n"
    )
    imported_by(register, state, cwd=tmp_path)  # creates and migrates the database
    # 16 job ranks or scripts registering at once each pay these imports: the job runtime
    # (psutil, the rank's transport) and migrations are not part of registering.
    modules = imported_by(
        register + "assert not [m for m in sys.modules if m.startswith('labrig.jobs.') and m not in"
        " ('labrig.jobs.env_names', 'labrig.jobs.tables')], 'the job runtime was imported'\n",
        state,
        cwd=tmp_path,
    )
    assert not modules & {"nbformat", "papermill", "jsonschema", "torch", "jupyter_server"}
    assert not modules & {"psutil", "alembic"}, sorted(modules & {"psutil", "alembic"})


def test_listing_the_sections_names_each_groups_own_help() -> None:
    """`labrig --help` lists the sections from ``SECTIONS`` without importing them."""
    for name in cli_module.SECTIONS:
        group = cli_module.load_section(name)
        assert isinstance(group, click.Group)
        assert group.get_short_help_str(200) == cli_module.SECTIONS[name][2], name


@pytest.mark.parametrize("name", sorted(cli_module.SECTIONS))
def test_each_section_runs_by_name(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from labrig.cli import cli; cli()", name, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Usage: labrig {name}" in result.stdout or f"Usage: -c {name}" in result.stdout
