"""Routes for processes that share no filesystem with the server (kernels and job ranks in REST
mode, ``labrig.rest``): uploading a model version's files, and who a token acts as."""

from __future__ import annotations

import asyncio
import json
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from .. import identity
from ..errors import InvalidInput, NotFound
from ..models.checks import check_model_name
from ..validation import check_fields
from .base import LabrigHandler
from .models import ModelsBase

UPLOAD_FIELDS = {"kind", "metrics", "params", "tags", "note", "lineage", "idempotency_key"}
KINDS = ("file", "directory", "module")


def unpack(archive: Path, target: Path) -> None:
    """Extract an uploaded tar of regular files and folders into ``target``; anything else
    (links, devices, absolute paths, ``..``) is refused rather than followed."""
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = tar.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if member.name.startswith("/") or ".." in parts or not parts:
                    raise InvalidInput(
                        f"the upload holds {member.name!r}, which leaves its folder", field="body"
                    )
                if not (member.isfile() or member.isdir()):
                    raise InvalidInput(
                        f"the upload holds {member.name!r}, which is not a plain file",
                        field="body",
                    )
            tar.extractall(target, members=members)  # every member checked above
    except tarfile.TarError as err:
        raise InvalidInput(f"the upload is not a tar archive: {err}", field="body") from err


def upload_metadata(raw: str | None) -> dict[str, Any]:
    """The ``metadata`` query parameter: a JSON object of the version's fields."""
    try:
        metadata = json.loads(raw) if raw else {}
    except ValueError as err:
        raise InvalidInput(f"metadata is not valid JSON: {err}", field="metadata") from err
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    check_fields(metadata, UPLOAD_FIELDS, what="an uploaded model version")
    kind = metadata.get("kind", "file")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    lineage = metadata.get("lineage")
    if lineage is not None and not isinstance(lineage, dict):
        raise InvalidInput("lineage must be a JSON object", field="lineage")
    return metadata


def registered_path(folder: Path, kind: str) -> Path:
    """What is registered from the unpacked upload: its one file, or the folder."""
    if kind != "file":
        return folder
    files = [p for p in folder.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise InvalidInput(
            f"a file version's upload must hold one file, not {len(files)}", field="body"
        )
    return files[0]


@web.stream_request_body
class ModelUploadHandler(ModelsBase):
    """POST a tar archive (the body, streamed to disk) as the next version of model ``name``;
    ``metadata`` (query) holds kind, metrics, params, tags, note, lineage, idempotency_key."""

    _spool: IO[bytes] | None = None

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler.prepare
        await super().prepare()
        if self.request.method == "POST":
            if not self.current_user:  # refused before a byte of the body is kept
                raise web.HTTPError(403)
            self._check_size(self.services.app.model_upload_max_bytes)
            uploads = Path(self.services.app.data_dir) / "uploads"
            await asyncio.to_thread(uploads.mkdir, parents=True, exist_ok=True)
            self._spool = await asyncio.to_thread(
                tempfile.NamedTemporaryFile, dir=uploads, suffix=".tar"
            )

    def _check_size(self, limit: int) -> None:
        """Refuse an upload larger than ``limit`` before reading it; let one up to it through
        (Tornado would stop it at ``ServerApp.max_body_size``)."""
        raw = self.request.headers.get("Content-Length")
        if raw is None or not raw.isdigit():
            raise InvalidInput("an upload must say its size (Content-Length)", field="body")
        if int(raw) > limit:
            raise InvalidInput(
                f"the upload is {int(raw)} bytes; this server takes model uploads of up to "
                f"{limit} bytes (LabrigApp.model_upload_max_bytes)",
                field="body",
            )
        self.request.connection.set_max_body_size(limit)  # type: ignore[union-attr]

    async def data_received(self, chunk: bytes) -> None:
        if self._spool is not None:
            await asyncio.to_thread(self._spool.write, chunk)

    def on_finish(self) -> None:
        if self._spool is not None:
            self._spool.close()  # removes it

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        check_model_name(name)
        metadata = upload_metadata(self.query_value("metadata"))
        assert self._spool is not None  # made in prepare for every POST
        await asyncio.to_thread(self._spool.flush)
        version = await self.call(self._register, name, Path(self._spool.name), metadata)
        self.write_json(version, status=201)

    def _register(self, name: str, archive: Path, metadata: dict[str, Any]) -> dict[str, Any]:
        folder = archive.with_name(f"{archive.stem}-{uuid.uuid4().hex[:8]}")
        folder.mkdir()
        try:
            unpack(archive, folder)
            kind = metadata.get("kind", "file")
            lineage = self._checked_lineage(metadata.get("lineage") or {})
            return self.services.models.register(
                name,
                registered_path(folder, kind),
                metrics=metadata.get("metrics"),
                params=metadata.get("params"),
                tags=metadata.get("tags"),
                note=metadata.get("note"),
                lineage=lineage,
                kind=kind,
                idempotency_key=metadata.get("idempotency_key"),
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _checked_lineage(self, claimed: dict[str, Any]) -> dict[str, Any]:
        """The lineage the client sent, as far as the server can vouch for it: a job it names
        must be one the caller may see (else a version could claim another user's job), and
        a kernel's token says which kernel registered it."""
        lineage = {**claimed, "registered_from": "upload"}
        job_id = lineage.get("job_id")
        if job_id is not None:
            try:
                self.services.jobs.get(str(job_id))
            except NotFound as err:
                raise InvalidInput(
                    f"lineage names job {job_id!r}, which is not a job of yours: leave job_id "
                    "out, or register from inside that job",
                    field="lineage",
                ) from err
        grant = self.identity_provider.grant
        if grant is not None and grant.kind == "kernel":
            lineage["kernel_id"] = grant.subject
        return lineage


class WhoAmIHandler(LabrigHandler):
    """Who this request acts as: the token's user as labrig records owners."""

    auth_resource = "labrig:status"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        principal = identity.current()
        self.write_json({"name": principal.name, "admin": principal.admin})


ROUTES: list[tuple[str, type[LabrigHandler]]] = [
    ("model-uploads/(?P<name>[^/]+)", ModelUploadHandler),
    ("whoami", WhoAmIHandler),
]
