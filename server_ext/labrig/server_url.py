"""Where the kernels (and job ranks) labrig starts reach this Jupyter server's REST API: the
``$LABRIG_SERVER_URL`` they get beside their scoped token.

``LabrigApp.kernel_server_url`` when an administrator set it; else, for processes on this host,
the server's own address as it listens, base URL included. A server listening on all interfaces
is reached over loopback (its hostname may not resolve, or not to an interface it listens on);
one listening on a unix socket has no URL that ``urllib`` or the ``requests`` library can use.
"""

from __future__ import annotations

import os
from typing import Any

from .jobs.env_names import SERVER_URL_ENV

#: Wildcard addresses (``""`` is what Jupyter makes of ``*``) and the loopback that reaches them.
LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}


def with_slash(url: str) -> str:
    """``<url>labrig/api/v1/`` must name the API: the URL ends in ``/``."""
    return url if url.endswith("/") else f"{url}/"


def own_url(serverapp: Any) -> str | None:
    """The URL at which a process on this host reaches ``serverapp`` (a Jupyter ``ServerApp``);
    None when it listens on a unix socket."""
    if serverapp.sock:
        return None
    ip = serverapp.ip or ""
    host = LOOPBACK.get(ip) or (f"[{ip}]" if ":" in ip else ip)
    scheme = "https" if serverapp.certfile else "http"
    return with_slash(f"{scheme}://{host}:{serverapp.port}{serverapp.base_url}")


def for_local_kernels(configured: str, serverapp: Any) -> str | None:
    """What kernels on this host get: the configured URL, else the server's own."""
    if configured:
        return with_slash(configured)
    return None if serverapp is None else own_url(serverapp)


def for_job_ranks(app: Any) -> str | None:
    """What a local job's ranks get (``app`` the launching ``LabrigApp``): the configured URL,
    else the serving server's own, else the URL this process was itself given (a job's
    supervisor admitting the next job while no server runs passes on its server's)."""
    configured = str(getattr(app, "kernel_server_url", "") or "")  # no app: a bare backend
    if configured:
        return with_slash(configured)
    serverapp: Any = getattr(app, "serverapp", None)
    # A server that serves has its web app; a LabrigApp no server linked makes up a blank one.
    if getattr(serverapp, "web_app", None) is not None:
        return own_url(serverapp)
    return os.environ.get(SERVER_URL_ENV) or None


def for_pods(configured: str) -> str | None:
    """What kernels in pods get: only a configured URL (the server's own address as it listens
    is rarely one a pod can reach)."""
    return with_slash(configured) if configured else None


def unreachable_warnings(configured: str, serverapp: Any, pods: bool) -> list[str]:
    """What the server log says at start when the kernels labrig starts cannot reach its API
    (they then get no ``LABRIG_SERVER_URL`` and no token)."""
    if configured:
        return []
    if pods:
        return [
            "notebooks in kernel pods cannot reach labrig (import labrig, the labrig CLI) until "
            "LabrigApp.kernel_server_url is set to a URL at which pods reach this server, e.g. "
            "http://jupyter.<namespace>.svc:8888/; their pods get no LABRIG_SERVER_URL and no "
            "LABRIG_API_TOKEN"
        ]
    if serverapp is not None and serverapp.sock:
        return [
            f"this server listens on the unix socket {serverapp.sock}, so kernels get no API URL "
            "(no LABRIG_SERVER_URL, no LABRIG_API_TOKEN) and import labrig in a notebook cannot "
            "reach labrig; set LabrigApp.kernel_server_url to an http(s) URL of this server"
        ]
    return []
