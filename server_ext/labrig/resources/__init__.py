"""Kernel resources: requests per notebook and the backends that enforce them.

From Python (a notebook, a script)::

    import labrig.resources
    labrig.resources.request("notebooks/train.ipynb", profile="custom", cpus=4, memory="16Gi")
    labrig.resources.show("notebooks/train.ipynb")
    labrig.resources.release("notebooks/train.ipynb")

These use the same state and checks as the panel and ``labrig resources`` (inside a kernel or
job rank started by labrig, through the server's REST API, as the kernel's owner); the Jupyter
server running the notebook's kernel restarts it with a changed request within a few seconds
(same kernel id, so the open notebook stays connected).
"""

from __future__ import annotations

from typing import Any


def _service() -> Any:
    from . import runtime

    return runtime.current()


def request(notebook_path: str, **values: Any) -> dict[str, Any]:
    """Save a request (profile, cpus, memory, gpus, gpu_type, disk) for a notebook."""
    result: dict[str, Any] = _service().save(notebook_path, values)
    return result


def show(notebook_path: str) -> dict[str, Any]:
    """The notebook's request, what its kernels hold and how each limit is enforced."""
    result: dict[str, Any] = _service().show(notebook_path)
    return result


def release(notebook_path: str) -> None:
    """Forget the notebook's request."""
    _service().delete(notebook_path)
