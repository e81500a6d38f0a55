"""Where the ranks a server launches reach it: the configured URL, the server's own address, or
the URL the launching process was given."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from labrig.jobs.env_names import SERVER_URL_ENV
from labrig.jobs.server_url import server_url


def app(kernel_server_url: str = "", **server: Any) -> SimpleNamespace:
    """A LabrigApp as ``server_url`` reads it; ``server`` the fields of the ServerApp."""
    fields = {"web_app": object(), "ip": "localhost", "port": 8888, "base_url": "/"}
    serverapp = SimpleNamespace(**{**fields, "sock": "", "certfile": "", **server})
    return SimpleNamespace(kernel_server_url=kernel_server_url, serverapp=serverapp)


@pytest.fixture(autouse=True)
def _no_inherited_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERVER_URL_ENV, raising=False)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (app("http://jupyter.ml.svc:8888/hub"), "http://jupyter.ml.svc:8888/hub/"),
        (app(base_url="/user/alice/"), "http://localhost:8888/user/alice/"),
        (app(ip="0.0.0.0", port=9000), "http://127.0.0.1:9000/"),
        (app(ip="", base_url="/x"), "http://127.0.0.1:8888/x/"),
        (app(ip="::1", certfile="/tls.pem"), "https://[::1]:8888/"),
    ],
    ids=["configured", "base-url", "wildcard", "unset-ip", "ipv6-tls"],
)
def test_the_configured_url_else_the_servers_own(settings: Any, expected: str) -> None:
    assert server_url(settings) == expected


def test_a_process_that_serves_nothing_passes_on_the_url_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unlinked = app(web_app=None)  # a supervisor's LabrigApp: a blank ServerApp
    assert server_url(unlinked) is None
    assert server_url(app(sock="/run/jupyter.sock")) is None  # no URL reaches a unix socket
    monkeypatch.setenv(SERVER_URL_ENV, "http://127.0.0.1:8888/user/alice/")
    assert server_url(unlinked) == "http://127.0.0.1:8888/user/alice/"
