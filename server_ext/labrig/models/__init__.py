"""The model registry: register and load model versions from a notebook or a job.

    import labrig.models
    labrig.models.register("resnet-mini", "model.pt", metrics={"acc": 0.91})
    path = labrig.models.load("resnet-mini@production")

Importing this package stays light; the registry opens the first time it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import ModelRegistry

__all__ = ["load", "open_registry", "register", "widget"]


def open_registry() -> ModelRegistry:
    """The registry itself (aliases, listing, gc), configured like the server."""
    from .python_api import registry as _registry

    return _registry()


def register(
    name: str,
    path_or_module: Any,
    *,
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    note: str = "",
    progress: Any = None,
) -> dict[str, Any]:
    """Register a file, a directory or a ``torch.nn.Module`` as the next version of ``name``.

    Lineage (job, rank, notebook, parameters, datasets, package versions, git commit) is taken
    from the environment. Returns the new version, e.g. ``{"ref": "resnet-mini/3", ...}``.
    """
    from .python_api import register as _register

    return _register(
        name,
        path_or_module,
        metrics=metrics,
        params=params,
        tags=tags,
        note=note,
        progress=progress,
    )


def load(ref: str) -> Any:
    """``name``, ``name/3`` or ``name@alias`` -> a verified local path (cached); for a
    registered ``torch.nn.Module``, its state_dict."""
    from .python_api import load as _load

    return _load(ref)


def widget() -> Any:
    """An ipywidgets form that registers a model version from the notebook."""
    from .form import RegisterWidget

    return RegisterWidget()
