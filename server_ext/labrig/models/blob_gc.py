"""Garbage collection of the blob store: blobs no version references, temporary files left by
interrupted writes, object-store uploads that a killed registration never finished, and leases of
registrations that never finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from .queries import ModelQueries
from .tables import BlobLease, ModelBlob, ModelFile

#: How long a registration may take before its leases stop protecting its blobs from gc.
LEASE_TTL = timedelta(hours=24)
#: Blobs younger than this are never collected (a registration may be writing them).
GC_GRACE = timedelta(hours=1)


class BlobCollector(ModelQueries):
    """Removes what no version needs from the blob store."""

    def gc(
        self, grace: timedelta = GC_GRACE, dry_run: bool = False, lease_ttl: timedelta = LEASE_TTL
    ) -> dict[str, Any]:
        """Remove blobs no version references (older than ``grace``, not leased), stale
        temporary files and unfinished uploads; drop leases of registrations that never
        finished."""
        now = datetime.now(UTC)
        self.store.check()  # a store that refuses to list must say so, not look empty
        with self.db.session() as session:
            session.execute(delete(BlobLease).where(BlobLease.created_at < now - lease_ttl))
        removed: list[str] = []
        freed = 0
        for sha, mtime in list(self.store.iter_blobs()):
            if mtime is not None and mtime > now - grace:
                continue
            size = self._collect_blob(sha, dry_run)
            if size is None:
                continue
            removed.append(sha)
            freed += size
        stale_tmp = self._remove_stale_tmp(now - grace, dry_run)
        aborted = self._abort_stale_uploads(now - grace, dry_run)
        if not dry_run:
            self._forget_unreferenced_blob_rows(now - grace)
        return {
            "removed_blobs": len(removed),
            "freed_bytes": freed,
            "removed_tmp": stale_tmp,
            "aborted_uploads": aborted,
            "dry_run": dry_run,
            "blobs": removed,
        }

    def _collect_blob(self, sha: str, dry_run: bool) -> int | None:
        """Remove one blob unless a version references it or a lease holds it; the bytes it
        freed, or None when it stays."""
        with self.db.session() as session:
            used = session.scalar(select(ModelFile.sha256).where(ModelFile.sha256 == sha).limit(1))
            leased = session.scalar(
                select(BlobLease.sha256).where(BlobLease.sha256 == sha).limit(1)
            )
            if used is not None or leased is not None:
                return None
            size = session.scalar(select(ModelBlob.size).where(ModelBlob.sha256 == sha))
            if not dry_run:
                self.store.remove(self.store.blob_path(sha))
                session.execute(delete(ModelBlob).where(ModelBlob.sha256 == sha))
        return size or 0

    def _remove_stale_tmp(self, cutoff: datetime, dry_run: bool) -> int:
        stale = 0
        for tmp, mtime in list(self.store.iter_tmp()):
            if mtime is not None and mtime > cutoff:
                continue
            stale += 1
            if not dry_run:
                self.store.remove(tmp)
        return stale

    def _abort_stale_uploads(self, cutoff: datetime, dry_run: bool) -> int:
        """Abort multipart uploads begun before ``cutoff`` whose blob no lease holds: their
        registration died (a live one holds its lease until it commits or gives up)."""
        aborted = 0
        for upload in list(self.store.pending_uploads()):
            if upload.initiated is not None and upload.initiated > cutoff:
                continue
            sha = upload.path.rsplit("/", 1)[-1]
            with self.db.session() as session:
                if session.scalar(select(BlobLease.sha256).where(BlobLease.sha256 == sha).limit(1)):
                    continue
            aborted += 1
            if not dry_run:
                self.store.abort_upload(upload)
        return aborted

    def _forget_unreferenced_blob_rows(self, cutoff: datetime) -> None:
        """Drop blob rows that no version file references and no lease holds any more."""
        with self.db.session() as session:
            orphan = select(ModelFile.sha256).distinct()
            session.execute(
                delete(ModelBlob).where(
                    ModelBlob.sha256.not_in(orphan),
                    ModelBlob.sha256.not_in(select(BlobLease.sha256)),
                    ModelBlob.created_at < cutoff,
                )
            )
