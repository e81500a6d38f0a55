"""Fixtures shared by labrig's tests: a Jupyter server with labrig, authentication on."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_server import PostgresServer, PostgresUnavailable, find_bin_dir
from tornado.httpclient import HTTPResponse

from labrig.app import LabrigApp
from labrig.services import Services, build_services

pytest_plugins = ["pytest_jupyter.jupyter_server"]

API = ("labrig", "api", "v1")


@pytest.fixture(autouse=True)
def labrig_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test gets its own state directory, and the server's env changes are undone."""
    data_dir = tmp_path / "labrig-data"
    monkeypatch.setenv("LABRIG_DATA_DIR", str(data_dir))
    monkeypatch.delenv("LABRIG_DATABASE_URL", raising=False)
    monkeypatch.delenv("LABRIG_CONFIG_FILE", raising=False)
    # Recorded, so what labrig.datasets.path() notes for lineage does not outlive the test.
    monkeypatch.setenv("LABRIG_DATASETS", "{}")
    monkeypatch.delenv("LABRIG_DATASETS")
    return data_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run (each test gets its own database on it)."""
    try:
        bin_dir = find_bin_dir()
    except PostgresUnavailable as err:
        pytest.skip(f"this host has no PostgreSQL server: {err}")
    with PostgresServer(bin_dir) as server:
        yield server


DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, labrig_env: Path) -> str:
    """A fresh, empty state database for the test: SQLite beside the test's state directory,
    or a new database on the run's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{labrig_env / 'labrig.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def on_each_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's labrig (server, CLI, Python API, job ranks) keeps its state in
    ``database_url``: a suite that requests this from an autouse fixture runs on each database."""
    monkeypatch.setenv("LABRIG_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def jp_server_config(labrig_env: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(labrig_env)},
    }


@pytest.fixture
def services(labrig_env: Path) -> Iterator[Services]:
    """The services as the CLI and the Python API build them, on the test's state directory."""
    built = build_services(LabrigApp(data_dir=str(labrig_env)))
    yield built
    built.close()


@pytest.fixture
def server_services(jp_serverapp: Any) -> Services:
    """The services of the running test server."""
    services: Services = jp_serverapp.web_app.settings["labrig_services"]
    return services


Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def api(jp_fetch: Fetch) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """Call the labrig API with the test token; returns (status, parsed JSON) for any status."""

    async def call(path: str, method: str = "GET", body: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"method": method}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str | bytes) else json.dumps(body)
        if params:
            kwargs["params"] = params
        response = await jp_fetch(*API, path, raise_error=False, **kwargs)
        return response.code, json.loads(response.body) if response.body else None

    return call
