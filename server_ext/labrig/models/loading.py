"""Loading a model version's weights without running code from it.

A PyTorch checkpoint is a pickle, and unpickling runs whatever the file says. So a version's
weights load from safetensors where the file is safetensors (checked by its content, not its
name), and otherwise through ``torch.load(weights_only=True)``, which refuses every object but
tensors and plain containers. Unpickling arbitrary objects happens only when the caller says
``trust_pickle=True`` and ``may_trust_pickle`` allows it for that version.
"""

from __future__ import annotations

import json
import pickle
import re
import struct
from pathlib import Path
from typing import Any

from .. import identity
from ..errors import InvalidInput

#: File names a directory version's checkpoint may have (safetensors is found by content).
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
#: A safetensors header is JSON of at most this many bytes (the format's own limit).
MAX_HEADER = 100 * 1024 * 1024


_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def _refused_global(message: str) -> str:
    """What torch's long refusal comes down to: the class the file wanted to import."""
    found = _GLOBAL.search(message)
    if found:
        return f"it needs {found.group(1)}"
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0][:200] if lines else "weights_only loading refused it"


def may_trust_pickle(version: dict[str, Any], principal: identity.Principal) -> bool:
    """Whether ``principal`` may unpickle ``version``'s files (``trust_pickle=True``): the one
    place that decides it. Only whoever registered the version (or an administrator) may:
    unpickling a file someone else registered runs their code as you."""
    return principal.owns(version.get("user"))


def is_safetensors(path: Path) -> bool:
    """Whether the file is in the safetensors format: an 8-byte little-endian header length,
    then that many bytes of JSON object."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return False
        (length,) = struct.unpack("<Q", head)
        if not 2 <= length <= MAX_HEADER:
            return False
        header = f.read(length)
    try:
        return isinstance(json.loads(header), dict)
    except ValueError:
        return False


def weights_file(path: Path, ref: str) -> Path:
    """The one weights file of a version fetched at ``path`` (a file, or a directory holding
    one safetensors file or one checkpoint)."""
    if path.is_file():
        return path
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    for found in (
        [p for p in files if is_safetensors(p)],
        [p for p in files if p.suffix in CHECKPOINT_SUFFIXES],
    ):
        if len(found) == 1:
            return found[0]
    names = ", ".join(p.relative_to(path).as_posix() for p in files[:5])
    raise InvalidInput(
        f"{ref} holds {len(files)} files ({names}), not one weights file; load() gives its "
        "folder to open the file you mean",
        field="ref",
    )


def load_weights(
    path: Path,
    version: dict[str, Any],
    *,
    principal: identity.Principal,
    trust_pickle: bool = False,
    map_location: Any = "cpu",
) -> Any:
    """The tensors (or, with ``trust_pickle``, the objects) in a version fetched at ``path``."""
    ref = str(version.get("ref") or f"{version.get('model')}/{version.get('version')}")
    if trust_pickle is not True and trust_pickle is not False:
        raise InvalidInput("trust_pickle must be True or False", field="trust_pickle")
    target = weights_file(path, ref)
    if is_safetensors(target):
        from safetensors.torch import load_file

        return load_file(str(target), device=str(map_location))
    if trust_pickle and not may_trust_pickle(version, principal):
        raise InvalidInput(
            f"{ref} was registered by {version.get('user') or 'someone else'}: only they (or an "
            "administrator) may load it with trust_pickle=True, since unpickling runs code from "
            "the file as you",
            field="trust_pickle",
        )
    import torch

    try:
        return torch.load(target, map_location=map_location, weights_only=not trust_pickle)
    except pickle.UnpicklingError as err:
        if trust_pickle:
            raise
        reason = _refused_global(str(err))
        raise InvalidInput(
            f"{ref}: {target.name} holds pickled Python objects, not only tensors, and loading "
            f"them could run code from the file ({reason}). If you trust whoever registered "
            f"it, load it with labrig.models.load_torch({ref!r}, trust_pickle=True)",
            field="trust_pickle",
        ) from err
