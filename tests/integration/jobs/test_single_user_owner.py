"""On a single-user server (Jupyter Server's own token or password) the panel, the REST API,
the CLI and the Python API all act as the one user who runs it: what one submits, the others
see and act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labrig import identity
from labrig.cli import cli


async def test_a_token_request_acts_as_the_servers_user_as_the_cli_does(
    api: Any, server_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(identity.USER_ENV, raising=False)
    code, job = await api("jobs", method="POST", body={"notebook_path": "nb/train.ipynb"})
    assert code == 201, job
    assert job["owner"] == identity.process_user() != ""
    # A second request with the token alone (no login cookie) is the same user, not a new
    # "Anonymous" one.
    code, seen = await api(f"jobs/{job['id']}")
    assert (code, seen["owner"]) == (200, job["owner"])
    listed = CliRunner().invoke(cli, ["jobs", "ls"])
    assert job["id"] in listed.output, listed.output
    code, cancelled = await api(f"jobs/{job['id']}/cancel", method="POST", body={})
    assert code in (200, 409), cancelled  # 409: it already ended
