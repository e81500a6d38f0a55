"""labrig: kernel resources, cached datasets, notebook training jobs and a model registry.

The package is split over three source folders (server_ext, kernels, dataset_mounts), so its
``__path__`` is extended to find ``labrig.kernels`` and ``labrig.dataset_mounts`` beside it.
Importing ``labrig`` stays light: the server extension is imported only when Jupyter asks.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .services import Services

__all__ = ["__version__", "connect"]


def connect() -> "Services":
    """labrig's services for this process, configured like the Jupyter server.

    Inside a kernel or a job rank started by labrig, ``LABRIG_DATA_DIR`` and
    ``LABRIG_DATABASE_URL`` point at the server's state, so this sees what the panel shows.
    """
    from .services import load_services

    return load_services()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "labrig"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import LabrigApp

    return [{"module": "labrig.app", "app": LabrigApp}]
