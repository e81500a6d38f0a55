"""Where the kernels labrig starts reach the server's API (``labrig.server_url``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from labrig import server_url
from labrig.jobs.env_names import SERVER_URL_ENV


def serverapp(**changes: Any) -> Any:
    values = {"ip": "localhost", "port": 8888, "base_url": "/", "certfile": "", "sock": ""}
    return SimpleNamespace(**{**values, **changes})


@pytest.mark.parametrize(
    ("ip", "url"),
    [
        ("localhost", "http://localhost:8888/user/alice/"),
        ("10.1.2.3", "http://10.1.2.3:8888/user/alice/"),
        # Listening on every interface: loopback reaches it (the hostname may not resolve).
        ("0.0.0.0", "http://127.0.0.1:8888/user/alice/"),
        ("", "http://127.0.0.1:8888/user/alice/"),
        ("::", "http://[::1]:8888/user/alice/"),
        ("fd00::5", "http://[fd00::5]:8888/user/alice/"),
    ],
)
def test_kernels_on_this_host_get_the_servers_own_url_with_its_base_url(ip: str, url: str) -> None:
    app = serverapp(ip=ip, base_url="/user/alice/")
    assert server_url.own_url(app) == url
    assert server_url.for_local_kernels("", app) == url


def test_tls_and_a_configured_url_win_and_every_url_ends_in_a_slash() -> None:
    assert server_url.own_url(serverapp(certfile="/etc/tls.crt")) == "https://localhost:8888/"
    configured = "http://jupyter.ml.svc:8888/hub"
    assert server_url.for_local_kernels(configured, serverapp()) == f"{configured}/"
    assert server_url.for_pods(configured) == f"{configured}/"


def test_without_a_url_kernels_get_none_and_the_log_says_why() -> None:
    unix = serverapp(sock="/run/jupyter.sock")
    assert server_url.own_url(unix) is None
    assert server_url.for_local_kernels("", unix) is None
    assert server_url.for_local_kernels("", None) is None
    (local,) = server_url.unreachable_warnings("", unix, pods=False)
    assert "/run/jupyter.sock" in local
    assert "LabrigApp.kernel_server_url" in local
    # Pods never get the server's own address: only a configured one.
    assert server_url.for_pods("") is None
    (pods,) = server_url.unreachable_warnings("", serverapp(), pods=True)
    assert "kernel pods cannot reach labrig" in pods
    assert "LabrigApp.kernel_server_url" in pods
    assert server_url.unreachable_warnings("", serverapp(), pods=False) == []
    assert server_url.unreachable_warnings("http://x:1/", unix, pods=True) == []


def app(kernel_server_url: str = "", **server: Any) -> SimpleNamespace:
    """A LabrigApp as ``for_job_ranks`` reads it; ``server`` the fields of the ServerApp."""
    fields = {"web_app": object(), "ip": "localhost", "port": 8888, "base_url": "/"}
    serverapp = SimpleNamespace(**{**fields, "sock": "", "certfile": "", **server})
    return SimpleNamespace(kernel_server_url=kernel_server_url, serverapp=serverapp)


@pytest.fixture
def no_inherited_url(monkeypatch: pytest.MonkeyPatch) -> None:
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
def test_ranks_get_the_configured_url_else_the_servers_own(
    settings: Any, expected: str, no_inherited_url: None
) -> None:
    assert server_url.for_job_ranks(settings) == expected


def test_a_process_that_serves_nothing_passes_on_the_url_it_was_given(
    monkeypatch: pytest.MonkeyPatch, no_inherited_url: None
) -> None:
    unlinked = app(web_app=None)  # a supervisor's LabrigApp: a blank ServerApp
    assert server_url.for_job_ranks(unlinked) is None
    assert (
        server_url.for_job_ranks(app(sock="/run/jupyter.sock")) is None
    )  # no URL reaches a unix socket
    monkeypatch.setenv(SERVER_URL_ENV, "http://127.0.0.1:8888/user/alice/")
    assert server_url.for_job_ranks(unlinked) == "http://127.0.0.1:8888/user/alice/"
