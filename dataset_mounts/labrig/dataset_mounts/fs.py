"""``labrig://<dataset>/<path>``: an fsspec filesystem reading datasets through the host cache.

For datasets larger than the cache (or not warmed): each file is fetched into the shared cache
on first open (once per host, whichever process asks first) and read from local disk after.
It is read-only. Registered as the ``labrig`` protocol through the ``fsspec.specs`` entry point.
"""

from __future__ import annotations

from typing import Any

from fsspec.implementations.local import LocalFileOpener
from fsspec.spec import AbstractFileSystem

from labrig.errors import NotFound

from .catalog import DatasetCatalog
from .sources import Entry


class LabrigFileSystem(AbstractFileSystem):
    protocol = "labrig"
    root_marker = ""

    def __init__(self, catalog: DatasetCatalog | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._catalog = catalog

    @property
    def catalog(self) -> DatasetCatalog:
        if self._catalog is None:
            import labrig

            self._catalog = labrig.connect().datasets
        return self._catalog

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if isinstance(path, list):  # pragma: no cover - fsspec passes lists sometimes
            return [cls._strip_protocol(p) for p in path]  # type: ignore[return-value]
        path = path.removeprefix("labrig://").removeprefix("labrig:")
        return path.strip("/")

    def _entries(self, name: str) -> list[Entry]:
        self.catalog.visible(name)
        return self.catalog.manifest(name)[1]

    def _file_info(self, name: str, entry: Entry) -> dict[str, Any]:
        return {"name": f"{name}/{entry.path}", "size": entry.size, "type": "file"}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not path:
            names = [d["name"] for d in self.catalog.list(_all()).items]
            out: list[dict[str, Any]] = [{"name": n, "size": 0, "type": "directory"} for n in names]
            return out if detail else [o["name"] for o in out]
        name, _, rel = path.partition("/")
        prefix = rel + "/" if rel else ""
        seen: dict[str, dict[str, Any]] = {}
        for e in self._entries(name):
            if e.path == rel:
                info = self._file_info(name, e)
                return [info] if detail else [info["name"]]
            if not e.path.startswith(prefix):
                continue
            head, sep, _tail = e.path[len(prefix) :].partition("/")
            full = f"{name}/{prefix}{head}"
            if sep:
                seen.setdefault(full, {"name": full, "size": 0, "type": "directory"})
            else:
                seen[full] = self._file_info(name, e)
        if not seen:
            raise FileNotFoundError(path)
        items = sorted(seen.values(), key=lambda i: i["name"])
        return items if detail else [i["name"] for i in items]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        name, _, rel = path.partition("/")
        if not rel:
            self._entries(name)
            return {"name": name, "size": 0, "type": "directory"}
        for e in self._entries(name):
            if e.path == rel:
                return self._file_info(name, e)
            if e.path.startswith(rel + "/"):
                return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> Any:
        if "r" not in mode or "+" in mode:
            raise PermissionError(f"labrig://{path} is read-only")
        path = self._strip_protocol(path)
        name, _, rel = path.partition("/")
        try:
            local = self.catalog.open_path(name, rel)
        except NotFound as err:
            raise FileNotFoundError(err.message) from err
        return LocalFileOpener(str(local), mode, fs=self)


def _all() -> Any:
    from labrig.store import PageRequest

    return PageRequest.parse("500", None)
