"""The command a kernel pod runs: gateway_provisioners' Python kernel launcher, found in the
installed gateway_provisioners (it ships as data, not as an importable module).

    python -m labrig.kernels.pod_launch --kernel-id ID --response-address IP:PORT \
        --public-key KEY [--port-range LO..HI] [--transport-encryption auto|required]

The launcher starts an IPython kernel on the pod's addresses, sends its connection info to the
server (encrypted with the server's public key) and listens for interrupts and shutdown. When
the pod names a usage port (``LABRIG_USAGE_PORT``), the usage reporter
(``labrig.kernels.pod_usage``) starts first, as a process of its own beside the kernel.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path


def launchers() -> Path:
    import gateway_provisioners

    return Path(gateway_provisioners.__file__).parent / "kernel-launchers"


def start_usage_reporter() -> subprocess.Popen[bytes] | None:
    """The pod's usage reporter, when the pod asks for one (it ends with this process)."""
    from .pod_usage import PORT_ENV

    if not os.environ.get(PORT_ENV):
        return None
    return subprocess.Popen([sys.executable, "-m", "labrig.kernels.pod_usage"])


def main(argv: list[str] | None = None) -> None:
    reporter = start_usage_reporter()
    try:
        _launch(argv)
    finally:
        if reporter is not None:
            reporter.terminate()
            reporter.wait(timeout=10)


def _launch(argv: list[str] | None) -> None:
    script = launchers() / "python" / "scripts" / "launch_ipykernel.py"
    # The launcher imports server_listener from its folder, where gateway_provisioners ships a
    # placeholder that its image "assembly" replaces with the shared one: the shared one first
    # on the path does the same without copying files into site-packages.
    sys.path[:0] = [str(launchers() / "shared" / "scripts"), str(script.parent)]
    sys.argv = [str(script), *(sys.argv[1:] if argv is None else argv)]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
