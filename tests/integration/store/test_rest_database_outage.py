"""The panel's requests while the PostgreSQL server restarts: a read waits for it and answers;
a write fails at once with a 503 that names the database (never its password), and nothing of
it is half-written."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from postgres_server import PASSWORD, PostgresServer

from labrig.store.db import masked_url

pytestmark = pytest.mark.slow

Api = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture
def jp_server_config(labrig_env: Path, pg_url: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {
            "data_dir": str(labrig_env),
            "database_url": pg_url,
            "database_retry_seconds": 20.0,
        },
    }


def _start_after(server: PostgresServer, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), server.start()))
    thread.start()
    return thread


async def test_a_read_waits_out_a_restart_and_a_write_fails_cleanly(
    api: Api, postgres_server: PostgresServer, pg_url: str
) -> None:
    assert (await api("models", method="POST", body={"name": "kept"}))[0] == 201
    postgres_server.stop()
    try:
        status, reply = await api("models", method="POST", body={"name": "lost"})
    finally:
        restarted = _start_after(postgres_server, 3.0)
    assert status == 503, reply
    assert masked_url(pg_url) in reply["message"]
    assert PASSWORD not in reply["message"]
    assert "Traceback" not in reply["message"]

    started = time.monotonic()
    status, page = await api("models")  # asked while the server is still down
    restarted.join()
    assert status == 200, page
    assert time.monotonic() - started >= 2.5  # it waited for the database
    assert [m["name"] for m in page["items"]] == ["kept"]  # the failed write left nothing
