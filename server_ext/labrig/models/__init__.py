"""The model registry: register and load model versions from a notebook or a job.

    import labrig.models
    labrig.models.register("resnet-mini", "model.pt", metrics={"acc": 0.91})
    path = labrig.models.load("resnet-mini@production")
    state = labrig.models.load_torch("resnet-mini@production")  # tensors, nothing unpickled

Importing this package stays light; the registry opens the first time it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import ModelRegistry

__all__ = ["load", "load_torch", "open_registry", "register", "widget"]


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

    Inside a job's rank (local or on a cluster) the registration is staged instead: the files
    go to the job's folder and become a version, registered by the job's owner with the job's
    lineage, when the job ends (whether or not a server runs meanwhile). The reply then says
    so: ``{"model": "resnet-mini", "version": None, "staged": True, "ref": "resnet-mini
    (staged: registered when job 4f2a... ends)"}``.
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
    registered ``torch.nn.Module``, its state_dict. For a PyTorch checkpoint's tensors use
    ``load_torch``, which never unpickles code unless told to."""
    from .python_api import load as _load

    return _load(ref)


def load_torch(ref: str, *, trust_pickle: bool = False, map_location: Any = "cpu") -> Any:
    """A version's weights as tensors, without running code from its files: safetensors where
    the file is safetensors (a registered ``torch.nn.Module`` is), else ``torch.load`` with
    ``weights_only=True``. A checkpoint that pickled other Python objects is refused unless
    you pass ``trust_pickle=True``, which unpickles it and so runs whatever it holds: only for
    a version you registered yourself or otherwise trust."""
    from .python_api import load_torch as _load_torch

    return _load_torch(ref, trust_pickle=trust_pickle, map_location=map_location)


def widget() -> Any:
    """An ipywidgets form that registers a model version from the notebook."""
    from .form import RegisterWidget

    return RegisterWidget()
