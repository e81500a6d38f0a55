"""Pieces shared by every ``labrig`` subcommand group: services, --json, tables, paging."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import click

# The services and the database are imported when a command runs, not when the CLI is built:
# `labrig --help` and `labrig jobs --help` import neither.
if TYPE_CHECKING:
    from .services import Services
    from .store import Page

F = TypeVar("F", bound=Callable[..., Any])


def services_of(ctx: click.Context) -> Services:
    """The services, opened once per command on first use and closed when it ends."""
    root = ctx.find_root()
    if root.obj is None:
        from .services import load_services

        root.obj = load_services()
        root.call_on_close(root.obj.close)
    services: Services = root.obj
    return services


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def page_options(fn: F) -> F:
    fn = click.option("--limit", default="50", show_default=True, help="Rows per page (1-500).")(fn)
    return click.option("--page-token", default=None, help="Token printed after a page.")(fn)


def emit_table(
    page: Page[dict[str, Any]], columns: Iterable[str], as_json: bool, empty: str
) -> None:
    if as_json:
        click.echo(json.dumps({"items": page.items, "next_page_token": page.next_page_token}))
        return
    if not page.items:
        click.echo(empty)
        return
    cols = list(columns)
    rows = [[_cell(item.get(col)) for col in cols] for item in page.items]
    widths = [max(len(col), *(len(row[i]) for row in rows)) for i, col in enumerate(cols)]
    click.echo("  ".join(col.upper().ljust(w) for col, w in zip(cols, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if page.next_page_token:
        click.echo(f"more: --page-token {page.next_page_token}")


def emit_object(value: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(value))
        return
    for key, item in value.items():
        click.echo(f"{key}: {_cell(item)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def list_command(group: click.Group, section: str, columns: tuple[str, ...], empty: str) -> None:
    """Add ``ls`` to ``group``, listing ``Services.<section>`` a page at a time."""

    @group.command("ls")
    @page_options
    @json_option
    @click.pass_context
    def ls(ctx: click.Context, limit: str, page_token: str | None, as_json: bool) -> None:
        from .store import PageRequest

        service = getattr(services_of(ctx), section)
        emit_table(service.list(PageRequest.parse(limit, page_token)), columns, as_json, empty)

    ls.help = f"List {section}."


def show_command(group: click.Group, section: str, arg: str) -> None:
    """Add ``show ARG`` to ``group``, printing ``Services.<section>.get(ARG)``."""

    @group.command("show")
    @click.argument(arg)
    @json_option
    @click.pass_context
    def show(ctx: click.Context, as_json: bool, **kwargs: str) -> None:
        emit_object(getattr(services_of(ctx), section).get(kwargs[arg]), as_json)

    show.help = f"Show one of the {section} by {arg.replace('_', ' ')}."
