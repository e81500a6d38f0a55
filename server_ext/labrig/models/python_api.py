"""The Python API behind ``labrig.models``: the same registry as the server's.

In a kernel or job rank started by labrig (REST mode, ``labrig.rest``) the registry is the
server's, reached over its REST API: files are uploaded, loads download into this user's
cache. Elsewhere it is opened in-process over the configured database."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..jobs.env_names import STORE_ENV
from ..paths import confine_absolute
from .lineage import current_lineage
from .registry import ModelRegistry

MODULE_MANIFEST = "labrig-module.json"
WEIGHTS = "model.safetensors"

_lock = threading.Lock()
_services: Any = None


def registry() -> ModelRegistry:
    """The registry ``labrig.connect()`` gives: over REST in a kernel or job rank, else
    configured like the server (LABRIG_DATA_DIR / LABRIG_DATABASE_URL)."""
    global _services
    with _lock:
        if _services is None:
            from .. import connect

            _services = connect()
        found: ModelRegistry = _services.models
        return found


def reset() -> None:
    """Forget the opened services (tests switch state directories)."""
    global _services
    with _lock:
        if _services is not None:
            _services.close()
        _services = None


def _is_module(value: Any) -> bool:
    # A torch.nn.Module can only exist once torch is imported: never import it here (slow).
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def _save_module(module: Any, target: Path) -> None:
    from safetensors.torch import save_file

    state = {
        key: tensor.detach().cpu().contiguous().clone()
        for key, tensor in module.state_dict().items()
    }
    save_file(state, str(target / WEIGHTS))
    cls = type(module)
    manifest = {"format": "safetensors", "class": f"{cls.__module__}.{cls.__qualname__}"}
    (target / MODULE_MANIFEST).write_text(json.dumps(manifest))


def register(
    name: str,
    path_or_module: Any,
    *,
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    note: str = "",
    progress: Any = None,
    reg: ModelRegistry | None = None,
) -> dict[str, Any]:
    # Inside a job rank on a cluster there is no registry at hand: the registration is staged
    # on the job's shared storage and the server registers it when the job ends.
    staged = reg is None and bool(os.environ.get(STORE_ENV))
    target = None if staged else (reg or registry())
    # Who registers is the process's identity, never an argument: over REST the user the
    # token acts for; in-process $LABRIG_USER or the operating-system user.
    options = {"metrics": metrics, "params": params, "tags": tags, "note": note}
    if _is_module(path_or_module):
        with tempfile.TemporaryDirectory(prefix="labrig-module-") as tmp:
            _save_module(path_or_module, Path(tmp))
            lineage = current_lineage(None)
            lineage["module_class"] = json.loads((Path(tmp) / MODULE_MANIFEST).read_text())["class"]
            module = {**options, "lineage": lineage, "kind": "module"}
            return _register(target, name, Path(tmp), module, progress)
    if not isinstance(path_or_module, str | Path):
        raise InvalidInput(
            f"register() takes a file or directory path or a torch.nn.Module, not "
            f"{type(path_or_module).__name__}",
            field="path",
        )
    path = confine_absolute(path_or_module, source_roots(), field="path")
    return _register(target, name, path, {**options, "lineage": current_lineage(path)}, progress)


def source_roots() -> list[str]:
    """Where ``register`` may read files from (``LabrigSettings.model_source_roots``)."""
    with _lock:
        services = _services
    if services is None:  # a rank staging for the server: the settings, no database
        from ..services import load_services

        services = load_services()
    return services.model_source_roots()


def _register(
    reg: ModelRegistry | None, name: str, path: Path, options: dict[str, Any], progress: Any
) -> dict[str, Any]:
    if reg is not None:
        return reg.register(name, path, progress=progress, **options)
    from ..jobs.remote import stage_registration

    if not path.exists():
        raise InvalidInput(f"there is nothing at {str(path)!r} to register", field="path")
    return stage_registration(name, path, {k: v for k, v in options.items() if v})


def load_torch(
    ref: str,
    *,
    trust_pickle: bool = False,
    map_location: Any = "cpu",
    reg: ModelRegistry | None = None,
) -> Any:
    from .loading import load_weights

    reg = reg or registry()
    version = reg.get_ref(ref)
    path = reg.load_path(f"{version['model']}/{version['version']}")
    return load_weights(
        path,
        version,
        principal=reg.policy.acting(),
        trust_pickle=trust_pickle,
        map_location=map_location,
    )


def load(ref: str, reg: ModelRegistry | None = None) -> Any:
    reg = reg or registry()
    version = reg.get_ref(ref)
    path = reg.load_path(f"{version['model']}/{version['version']}")
    if version["kind"] == "module":
        from safetensors.torch import load_file

        return load_file(str(path / WEIGHTS))
    return path
