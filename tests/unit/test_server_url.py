"""Where the kernels labrig starts reach the server's API (``labrig.server_url``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from labrig import server_url


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
