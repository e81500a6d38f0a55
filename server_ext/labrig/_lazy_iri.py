"""Keep jsonschema's optional IRI format checker from costing every labrig process seconds.

jsonschema registers the "iri" and "iri-reference" formats when ``rfc3987_syntax`` is installed
(Jupyter's own dependencies pull it in), and that module builds a Lark parser when it is
imported: 1-6 s on a small machine, paid by every process that imports nbformat or papermill,
which never use those formats. ``defer()`` puts a stand-in for the module in ``sys.modules``
before jsonschema is imported: jsonschema registers the formats as usual, and the real module
is imported the first time one of them is actually checked. Format checking is unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

NAME = "rfc3987_syntax"

_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in for ``rfc3987_syntax`` until one of its names is used."""

    _real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        with _lock:
            if self._real is None:
                if sys.modules.get(NAME) is self:
                    del sys.modules[NAME]
                self._real = importlib.import_module(NAME)
            return self._real

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._load(), name)


def defer() -> None:
    """Install the stand-in, unless jsonschema or the module is imported already (or absent)."""
    if NAME in sys.modules or "jsonschema._format" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(NAME)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    stand_in = _Deferred(NAME, "Deferred import of rfc3987_syntax (labrig._lazy_iri).")
    stand_in.__spec__ = spec

    # jsonschema binds this name at import; the call imports the real module when a schema
    # with an IRI format is checked.
    def is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
        return stand_in._load().is_valid_syntax(*args, **kwargs)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules[NAME] = stand_in
