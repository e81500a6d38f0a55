"""``labrig db``: the state database's schema revision, and migrating it as a separate step.

With ``LabrigApp.migrate_on_start = False`` a platform team runs ``labrig db upgrade`` (same
configuration as the server: ``database_url``, ``$LABRIG_DATABASE_URL``) before it starts new
servers. These commands never migrate on their own: ``current`` only reads.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from ..clikit import json_option

if TYPE_CHECKING:
    from .db import Database


@click.group()
def db() -> None:
    """The state database's schema: its revision, and migrating it."""


def _open() -> Database:
    from ..rest.http import NotOverRest, rest_settings
    from ..settings import load_settings
    from .db import Database

    if rest_settings() is not None:
        raise NotOverRest(
            "`labrig db` works on the state database, which this process has no access to: it "
            "talks to the Jupyter server over REST (LABRIG_SERVER_URL and LABRIG_API_TOKEN are "
            "set, as in a kernel or job). Run it where the server runs, in a terminal without "
            "those variables (or ask an administrator)"
        )

    return Database(load_settings().database_url)


def _state(database: Database) -> dict[str, Any]:
    from .db import masked_url

    current, head = database.current_revision(), database.head_revision()
    return {
        "database": masked_url(database.url),
        "dialect": database.dialect,
        "revision": current,
        "head": head,
        "up_to_date": current == head,
    }


@db.command("current")
@json_option
def current(as_json: bool) -> None:
    """Print the schema revision of the database and whether it is this labrig's newest."""
    database = _open()
    try:
        state = _state(database)
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(state))
        return
    click.echo(f"database: {state['database']}")
    if state["up_to_date"]:
        click.echo(f"revision: {state['revision']} (up to date)")
    elif state["revision"] is None:
        click.echo(f"revision: none (empty database; `labrig db upgrade` creates {state['head']})")
    else:
        click.echo(
            f"revision: {state['revision']} (this labrig needs {state['head']}: "
            "run `labrig db upgrade`)"
        )


@db.command("upgrade")
@json_option
def upgrade(as_json: bool) -> None:
    """Migrate the schema to this labrig's newest revision (a no-op when it is there)."""
    database = _open()
    try:
        before = database.current_revision()
        database.upgrade()
        state = _state(database)
    finally:
        database.dispose()
    state["previous"] = before
    if as_json:
        click.echo(json.dumps(state))
        return
    if before == state["revision"]:
        click.echo(f"{state['database']}: already at revision {before}")
    else:
        click.echo(f"{state['database']}: upgraded from {before or 'empty'} to {state['revision']}")
