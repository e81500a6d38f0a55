"""The ResourceService of this process, for the kernel provisioner.

Inside the Jupyter server it is the server's own (set when labrig starts); anywhere else (a
``KernelManager`` in a script or a test) it is built like the CLI's, from the same config files
and ``LABRIG_*`` variables.
"""

from __future__ import annotations

import threading

from .service import ResourceService

_lock = threading.Lock()
_current: ResourceService | None = None


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
