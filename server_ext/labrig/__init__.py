"""labrig: kernel resources, cached datasets, notebook training jobs and a model registry.

Importing ``labrig`` stays light: the server extension is imported only when Jupyter asks, and
``labrig.models``, ``labrig.datasets`` and ``labrig.resources`` open what they use on first use.
"""

# The package is split over three source folders (server_ext, kernels, dataset_mounts), so its
# __path__ is extended to find labrig.kernels and labrig.dataset_mounts beside it.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from typing import TYPE_CHECKING, Any

from . import _lazy_iri
from ._version import __version__

# Before anything imports jsonschema (nbformat, papermill): its IRI checker loads on first use.
_lazy_iri.defer()

if TYPE_CHECKING:
    from .services import Services

__all__ = ["__version__", "connect", "log_metric"]


def connect() -> "Services":
    """labrig's services for this process: what the panel shows, as this process's user.

    Inside a kernel or a job rank started by labrig, ``LABRIG_SERVER_URL`` and
    ``LABRIG_API_TOKEN`` (a token scoped to that kernel or job, acting as its owner) are set,
    and every call goes through the Jupyter server's REST API: no database is opened and
    ``LABRIG_USER`` is ignored. Without them (the server's own terminal, an administrator's
    script) the services open the state database configured like the server
    (``LABRIG_DATABASE_URL``, ``LABRIG_DATA_DIR``, jupyter_server_config).
    """
    from .services import load_services

    return load_services()


def log_metric(name: str, value: float, step: int | None = None) -> dict[str, Any]:
    """Report a scalar metric; inside a labrig job it is plotted live in the job's view.

    Each call appends one JSON line to this rank's metrics file (``LABRIG_METRICS_FILE``, set by
    the job runner); outside a job the point is only returned.
    """
    import json
    import os
    import time

    point = {
        "name": str(name),
        "value": float(value),
        "step": None if step is None else int(step),
        "rank": int(os.environ.get("LABRIG_RANK", "0")),
        "t": time.time(),
    }
    path = os.environ.get("LABRIG_METRICS_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(point) + "\n")
    return point


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "labrig"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import LabrigApp

    return [{"module": "labrig.app", "app": LabrigApp}]
