"""The ResourceService of this process, for the kernel provisioner, and how the kernels this
server starts reach its API.

Inside the Jupyter server the service is the server's own (set when labrig starts); anywhere else
(a ``KernelManager`` in a script or a test) it is built like the CLI's, from the same config files
and ``LABRIG_*`` variables. The kernel API (``KernelApi``) exists only inside a server: a kernel
started elsewhere gets no token and no server URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .service import ResourceService

if TYPE_CHECKING:
    from ..tokens import ApiTokens

_lock = threading.Lock()
_current: ResourceService | None = None


@dataclass(frozen=True)
class KernelApi:
    """What the server gives the kernels it starts instead of its database: a token minted per
    kernel start (``tokens``) and the URL at which the kernel reaches the server."""

    tokens: ApiTokens
    #: The URL for kernels on this host, asked at each start (the server's port is known once
    #: it listens); None: they get none (a unix-socket server, the log said so).
    local_url: Callable[[], str | None]
    #: The URL for kernels in pods (``LabrigApp.kernel_server_url``); None: they get none.
    pod_url: str | None


_kernel_api: KernelApi | None = None


def set_current(service: ResourceService | None) -> None:
    global _current
    with _lock:
        _current = service


def current() -> ResourceService:
    global _current
    with _lock:
        if _current is None:
            from ..services import load_services

            _current = load_services().resources
        return _current


def set_kernel_api(api: KernelApi | None) -> None:
    global _kernel_api
    with _lock:
        _kernel_api = api


def kernel_api() -> KernelApi | None:
    """The server's kernel API; None outside a server (then kernels get neither URL nor token)."""
    with _lock:
        return _kernel_api
