"""The model registry over REST: what ``labrig.models`` and ``labrig models`` call on
``ModelRegistry``, with the same arguments and the same JSON shapes.

Files go up as one tar archive to ``model-uploads/{name}`` (a kernel or a job rank need not
share a filesystem with the server) and come down through the version's file routes into a
local cache, verified against their sha256 as the in-process registry does.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .. import identity
from ..errors import InvalidInput
from ..models.checks import parse_ref
from ..paths import confine_relative
from ..store import Page, PageRequest
from .http import ApiClient, NotOverRest, RefusesWhatRestLacks, api_path

Progress = Callable[[int, int], None]
CHUNK = 4 * 1024 * 1024


def page_of(answer: dict[str, Any]) -> Page[dict[str, Any]]:
    return Page(list(answer["items"]), answer.get("next_page_token"))


def page_params(page: PageRequest) -> dict[str, Any]:
    return {"limit": page.limit, "page_token": page.page_token}


class RestModelPolicy:
    """Who this process acts as, for the checks made on this side (``trust_pickle``): the
    token's user as the server names it, asked once."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api
        self._principal: identity.Principal | None = None

    def acting(self) -> identity.Principal:
        if self._principal is None:
            me = self._api.get("whoami")
            self._principal = identity.Principal(name=me["name"], admin=bool(me["admin"]))
        return self._principal


class RestModels(RefusesWhatRestLacks):
    """``ModelRegistry``'s calls, made on the server."""

    reached_as = "labrig.connect().models"

    def __init__(self, api: ApiClient, cache_dir: Path) -> None:
        self.api = api
        self.cache_dir = cache_dir
        self.policy = RestModelPolicy(api)

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        return page_of(self.api.get("models", **page_params(page)))

    def names(self, prefix: str = "", limit: int = 50) -> builtins.list[str]:
        """Model names starting with ``prefix``, in order, at most ``limit`` (the widget's)."""
        found: builtins.list[str] = []
        token = None
        while len(found) < limit:
            page = self.list(PageRequest(500, token))
            found += [m["name"] for m in page.items if m["name"].startswith(prefix)]
            token = page.next_page_token
            if token is None:
                break
        return found[:limit]

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get(api_path("models", name))
        return found

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.api.post("models", body)
        return created

    def delete(self, name: str) -> None:
        self.api.delete(api_path("models", name))

    def list_versions(
        self, name: str, page: PageRequest, order_by: str | None = None
    ) -> Page[dict[str, Any]]:
        path = api_path("models", name, "versions")
        return page_of(self.api.get(path, sort=order_by, **page_params(page)))

    def get_ref(self, ref: str) -> dict[str, Any]:
        name, which = parse_ref(ref)
        found: dict[str, Any] = self.api.get(
            api_path("models", name, "versions", "latest" if which is None else str(which))
        )
        return found

    def resolve(self, ref: str) -> tuple[str, int]:
        version = self.get_ref(ref)
        return version["model"], int(version["version"])

    def get_version(self, name: str, version: int | str) -> dict[str, Any]:
        return self.get_ref(f"{name}/{version}")

    def delete_version(self, name: str, version: int | str) -> None:
        self.api.delete(api_path("models", name, "versions", str(version)))

    def set_alias(self, name: str, alias: str, version: Any) -> dict[str, Any]:
        moved: dict[str, Any] = self.api.put(
            api_path("models", name, "aliases", alias), {"version": version}
        )
        return moved

    def delete_alias(self, name: str, alias: str) -> None:
        self.api.delete(api_path("models", name, "aliases", alias))

    def alias_history(self, name: str, page: PageRequest) -> Page[dict[str, Any]]:
        path = api_path("models", name, "alias-history")
        return page_of(self.api.get(path, **page_params(page)))

    def gc(self, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
        raise NotOverRest(
            "garbage collection of the model store needs the server's database and store, "
            "which a kernel or job does not get: run `labrig models gc` in the server's terminal "
            "(or ask an administrator)"
        )

    # -- registering --------------------------------------------------------------------

    def register(
        self,
        name: str,
        path: Path | str,
        *,
        metrics: Any = None,
        params: Any = None,
        tags: Any = None,
        note: Any = None,
        lineage: dict[str, Any] | None = None,
        kind: str | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Upload the file or directory at ``path`` as the next version of ``name``."""
        from ..models.registration import collect_files  # the same checks as in-process

        source = Path(path)
        files = collect_files(source)
        # Asked first: a refused token is then said as such, not as a connection the server
        # closed midway through the upload.
        self.policy.acting()
        metadata = {
            "kind": kind or ("directory" if source.is_dir() else "file"),
            "metrics": metrics,
            "params": params,
            "tags": tags,
            "note": note,
            "lineage": lineage,
            "idempotency_key": idempotency_key,
        }
        with tempfile.TemporaryFile(prefix="labrig-upload-") as archive:
            # Files reached through a link go up as the files they are, as the in-process
            # registry reads them (the server takes plain files only).
            with tarfile.open(fileobj=archive, mode="w", dereference=True) as tar:
                for item in files:
                    tar.add(item.path, arcname=item.name, recursive=False)
            size = archive.tell()
            archive.seek(0)
            response = self.api.send(
                "POST",
                api_path("model-uploads", name),
                params={"metadata": json.dumps({k: v for k, v in metadata.items() if v})},
                data=_Reading(archive, size, progress),
                headers={"Content-Type": "application/octet-stream"},
                wait=True,
            )
        version: dict[str, Any] = response.json()
        return version

    # -- loading ------------------------------------------------------------------------

    def load_path(self, ref: str, progress: Progress | None = None) -> Path:
        """A local, verified copy of a version's files (cached), as a file or a directory."""
        info = self.get_ref(ref)
        name, number = info["model"], int(info["version"])
        root = self.cache_dir / name / str(number)
        for item in info["files"]:
            target = confine_relative(item["path"], root, field="files.path")
            marker = target.with_name(f".{target.name}.sha256")
            if target.is_file() and marker.is_file():
                st = target.stat()
                if marker.read_text() == f"{item['sha256']} {st.st_size} {st.st_mtime_ns}":
                    continue
            self._download(name, number, item, target, progress)
            st = target.stat()
            marker.write_text(f"{item['sha256']} {st.st_size} {st.st_mtime_ns}")
        if info["kind"] == "file" and len(info["files"]) == 1:
            return root / info["files"][0]["path"]
        return root

    def _download(
        self, name: str, number: int, item: dict[str, Any], target: Path, progress: Progress | None
    ) -> None:
        path = api_path("models", name, "versions", str(number), "files", item["path"])
        response = self.api.send("GET", path, stream=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        done = 0
        try:
            with response, partial.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, int(item["size"]))
            if digest.hexdigest() != item["sha256"]:
                raise InvalidInput(
                    f"{name}/{number} file {item['path']!r} arrived with sha256 "
                    f"{digest.hexdigest()[:12]}, not {item['sha256'][:12]}: load it again",
                    field="files",
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)


class _Reading:
    """A file read for upload, reporting the bytes sent to ``progress``."""

    def __init__(self, file: IO[bytes], size: int, progress: Progress | None) -> None:
        self._file, self._size, self._progress = file, size, progress
        self._done = 0

    def __len__(self) -> int:  # so the request says its length rather than chunking it
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._file.read(CHUNK):
            self._done += len(chunk)
            if self._progress is not None:
                self._progress(self._done, self._size)
            yield chunk
