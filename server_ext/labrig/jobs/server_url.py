"""Where the processes labrig starts on this host reach the Jupyter server's REST API
(``$LABRIG_SERVER_URL``): ``LabrigApp.kernel_server_url`` when set, else the running server's own
address with its base URL, else the URL this process was itself given (a job's supervisor
admitting the next job while no server runs passes on its server's)."""

from __future__ import annotations

import os
from typing import Any

from .env_names import SERVER_URL_ENV

#: Addresses a server listens on without being reachable at them: its processes use loopback.
WILDCARD_IPS = ("", "0.0.0.0", "::", "*")


def server_url(app: Any) -> str | None:
    """The server's URL ending in ``/``, or None when this process cannot know it (a CLI on a
    host where ``kernel_server_url`` is not configured)."""
    configured = str(getattr(app, "kernel_server_url", "") or "")
    if configured:
        return configured.rstrip("/") + "/"
    serverapp: Any = getattr(app, "serverapp", None)
    # A server that serves has its web app; a LabrigApp no server linked makes up a blank one.
    serving = getattr(serverapp, "web_app", None) is not None
    if serving and not serverapp.sock:
        ip = "127.0.0.1" if serverapp.ip in WILDCARD_IPS else serverapp.ip
        host = f"[{ip}]" if ":" in ip else ip
        scheme = "https" if serverapp.certfile else "http"
        base = "/" + str(serverapp.base_url).strip("/")
        return f"{scheme}://{host}:{serverapp.port}{base.rstrip('/')}/"
    return os.environ.get(SERVER_URL_ENV) or None
