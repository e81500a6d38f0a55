"""Confinement of paths to the directories they are allowed in: the one check behind every path a
user gives labrig (notebooks, job outputs, registration sources, downloads, dataset sources and
mounts) and every path labrig reads back from its database before it removes anything.

A path is resolved the way the operating system will follow it (``os.path.realpath``: every
symlink, ``..`` and ``.``) and must then lie under the real path of one of its roots. So a
symlink inside a root that points outside is refused as surely as ``../`` or an absolute path,
and the caller gets back the real path, which is what it should open.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Root = str | os.PathLike[str]


def _roots_text(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots)


def _text(value: Any, field: str, hint: str) -> str:
    """The path as text: a non-empty string without control characters."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required: {hint}", field=field)
    if _CONTROL.search(value):
        raise InvalidInput(
            f"{field} {value!r} contains control characters; give {hint}", field=field
        )
    return value


def real_roots(roots: Sequence[Root]) -> list[Path]:
    """The roots as the operating system resolves them (a root may itself be a symlink)."""
    return [Path(os.path.realpath(os.path.expanduser(os.fspath(r)))) for r in roots]


def _inside(real: Path, roots: Sequence[Path], *, allow_root: bool) -> Path | None:
    for root in roots:
        if real.is_relative_to(root) and (allow_root or real != root):
            return root
    return None


def _confine(shown: str, candidate: Path, roots: list[Path], field: str, allow_root: bool) -> Path:
    real = Path(os.path.realpath(candidate))
    if _inside(real, roots, allow_root=allow_root) is not None:
        return real
    lexical = Path(os.path.normpath(candidate))
    if _inside(lexical, roots, allow_root=allow_root) is not None:
        raise InvalidInput(
            f"{field} {shown!r} goes through a symlink that leads to {real}, outside "
            f"{_roots_text(roots)}; use a path whose real location is under it",
            field=field,
        )
    where = "under" if allow_root else "inside (not at)"
    raise InvalidInput(
        f"{field} {shown!r} is outside the allowed directories: it must be {where} "
        f"{_roots_text(roots)}",
        field=field,
    )


def relative_part(value: Any, *, field: str, within: str) -> str:
    """A relative path as text, checked without touching the disk: refused when it is absolute,
    names a home directory (``~/``), has a ``..`` part or control characters. ``within`` says,
    in the message, what it is relative to."""
    text = _text(value, field, f"a path relative to {within}")
    # ``~/x`` means a home directory to a person (``~name`` a file may be called: kept).
    if text.startswith(("/", "\\")) or os.path.isabs(text) or os.path.expanduser(text) != text:
        raise InvalidInput(
            f"{field} {text!r} must be relative to {within}, not an absolute path", field=field
        )
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise InvalidInput(
            f"{field} {text!r} must not contain '..': name a path under {within}", field=field
        )
    return text


def confine_relative(value: Any, root: Root, *, field: str, base: Root | None = None) -> Path:
    """A path a user gave relative to ``root`` (or to ``base``, a directory under it), as the
    real path it names; refused when ``relative_part`` refuses it or when it resolves (through
    symlinks) outside ``root``."""
    roots = real_roots([root])
    text = relative_part(value, field=field, within=str(roots[0]))
    start = Path(os.path.realpath(base)) if base is not None else roots[0]
    return _confine(text, start / text, roots, field, allow_root=True)


def confine_absolute(
    value: Any, roots: Sequence[Root], *, field: str, allow_root: bool = True
) -> Path:
    """An absolute path (or one relative to the working directory, as a CLI argument is) as the
    real path it names; refused when it resolves outside every one of ``roots``. With
    ``allow_root`` False the path must lie strictly inside a root (what may be removed)."""
    real = real_roots(roots)
    text = _text(value, field, f"a path under {_roots_text(real)}")
    return _confine(text, Path(os.path.abspath(os.path.expanduser(text))), real, field, allow_root)


def confine_stored(value: Any, roots: Sequence[Root], *, field: str) -> Path:
    """A path labrig recorded (in its database or beside its files), checked again before it is
    removed or rewritten: it must lie strictly inside one of ``roots``. A row that someone
    edited to name another place is refused, and nothing there is touched."""
    return confine_absolute(value, roots, field=field, allow_root=False)
