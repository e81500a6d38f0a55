"""REST mode costs nothing until a call is made: with the server's URL and a token set,
``labrig --help``, ``import labrig.models`` and ``labrig.connect()`` import no HTTP library and
make no request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def modules_after(code: str) -> dict[str, bool]:
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, sys as _sys
        print(_json.dumps({m: m in _sys.modules for m in ("requests", "urllib3", "httpx")}))
        """
    )
    env = {
        **os.environ,
        # Nothing listens here: a request made at import would fail the command.
        "LABRIG_SERVER_URL": "http://127.0.0.1:9/",
        "LABRIG_API_TOKEN": "token",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_help_imports_no_http_library() -> None:
    loaded = modules_after(
        """
        from click.testing import CliRunner
        from labrig.cli import cli
        for args in (["--help"], ["models", "--help"], ["jobs", "submit", "--help"]):
            assert CliRunner().invoke(cli, args).exit_code == 0
        """
    )
    assert loaded == {"requests": False, "urllib3": False, "httpx": False}


def test_connecting_imports_no_http_library_until_a_call() -> None:
    loaded = modules_after(
        """
        import labrig, labrig.models, labrig.resources
        from labrig.rest import RestServices
        assert isinstance(labrig.connect(), RestServices)
        """
    )
    assert loaded == {"requests": False, "urllib3": False, "httpx": False}
