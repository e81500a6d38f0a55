"""Warm-ups: fetch every object of a dataset's pinned version into the host cache, on a worker
thread (REST) or the caller's (CLI, Python API), with progress, cancel and resume (objects
already cached are counted, not fetched again)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from labrig.errors import Conflict, LabrigError, NotFound
from labrig.processes import process_alive, process_started
from labrig.store.tables import DatasetVersion

from .cache import Cancelled, LocalDatasetCache
from .cache_reads import CatalogCacheReads
from .progress import WarmUp
from .records import retry_busy
from .sources import Entry, Source, mask


class CatalogWarmUps(CatalogCacheReads):
    """Warm-ups of this process, by dataset; one runs per dataset at a time."""

    def start_warm(self, name: str, *, verify: bool = False) -> dict[str, Any]:
        """Start warming ``name`` on a background thread (one warm-up per dataset at a time)."""
        self.visible(name)
        with self._warm_lock:
            current = self._warmups.get(name)
            if current is not None and current.running:
                return current.as_json()
            warm = self._new_warmup(name)
            self._warmups[name] = warm
        self._note_warming(name, verify)
        thread = threading.Thread(
            target=self._run_warm_quietly, args=(warm, verify), name=f"warm-{name}", daemon=True
        )
        thread.start()
        return warm.as_json()

    def warm(
        self,
        name: str,
        *,
        verify: bool = False,
        on_progress: Callable[[WarmUp], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Warm ``name`` in this thread (the CLI and Python API); raises on failure."""
        self.visible(name)
        warm = self._new_warmup(name)
        if cancel is not None:
            warm.cancel = cancel
        with self._warm_lock:
            self._warmups[name] = warm
        self._run_warm(warm, verify, on_progress)
        return warm.as_json()

    def _new_warmup(self, name: str) -> WarmUp:
        """The progress record of a new warm-up (its kind depends on the cache)."""
        return WarmUp(id=uuid.uuid4().hex[:12], dataset=name)

    def warm_status(self, name: str) -> dict[str, Any]:
        self.visible(name)
        warm = self._warmups.get(name)
        if warm is None:
            return {"id": None, "dataset": name, "state": "idle"}
        return warm.as_json()

    def cancel_warm(self, name: str) -> dict[str, Any]:
        self.visible(name)
        warm = self._warmups.get(name)
        if warm is None or not warm.running:
            raise Conflict(f"dataset {name!r} has no warm-up running")
        warm.cancel.set()
        return warm.as_json()

    def _run_warm_quietly(self, warm: WarmUp, verify: bool) -> None:
        try:
            with contextlib.suppress(LabrigError):
                self._run_warm(warm, verify, None)
        finally:
            self._warming_note(warm.dataset).unlink(missing_ok=True)

    def _warming_note(self, name: str) -> Path:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        return self.store.root / "warming" / f"{digest}.json"

    def _note_warming(self, name: str, verify: bool) -> None:
        """Leave a note that this process warms ``name``: if the process is killed, the next
        server on this host finds the note and resumes the warm-up."""
        if not isinstance(self.cache, LocalDatasetCache):
            return
        note = self._warming_note(name)
        note.parent.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        record = {"dataset": name, "verify": verify, "pid": pid, "started": process_started(pid)}
        note.write_text(json.dumps(record))

    def resume_warmups(self) -> list[str]:
        """Resume the warm-ups that a server on this host started and never saw end (it was
        killed or the host restarted); objects already cached are not fetched again."""
        if not isinstance(self.cache, LocalDatasetCache):
            return []
        resumed = []
        for note in sorted((self.store.root / "warming").glob("*.json")):
            try:
                record = json.loads(note.read_text())
            except (OSError, ValueError):
                note.unlink(missing_ok=True)
                continue
            if process_alive(record.get("pid"), record.get("started")):
                continue  # the server that started it still runs it
            note.unlink(missing_ok=True)
            with contextlib.suppress(NotFound):  # deleted since
                self.start_warm(str(record["dataset"]), verify=bool(record.get("verify")))
                resumed.append(str(record["dataset"]))
        return resumed

    def _run_warm(
        self, warm: WarmUp, verify: bool, on_progress: Callable[[WarmUp], None] | None
    ) -> None:
        try:
            self._warm_body(warm, verify, on_progress)
        except Cancelled as err:
            warm.state, warm.error = "cancelled", err.message
            raise
        except LabrigError as err:
            warm.state, warm.error = "failed", err.message
            raise
        except Exception as err:
            warm.state = "failed"
            warm.error = mask(f"the warm-up failed: {type(err).__name__}: {err}")
            raise LabrigError(warm.error) from err
        finally:
            warm.finished_at = time.time()
            with contextlib.suppress(Exception):
                self.store.flush_stats()
            if on_progress is not None:
                on_progress(warm)

    def _warm_body(
        self, warm: WarmUp, verify: bool, on_progress: Callable[[WarmUp], None] | None
    ) -> None:
        name = warm.dataset
        source = self.source(name)
        version, entries = self.manifest(name)
        warm.version = version
        warm.files_total = len(entries)
        warm.bytes_total = sum(e.size for e in entries)
        warm.state = "running"
        self.store.sweep_tmp()
        self._fetch_all(warm, source, entries, verify, on_progress)

        def mark_complete() -> None:
            with self.db.session() as session:
                v = session.get(DatasetVersion, (name, version))
                if v is not None:
                    v.complete = True

        retry_busy(mark_complete)
        warm.state = "succeeded"
        with contextlib.suppress(LabrigError):
            self.evict()

    def _fetch_all(
        self,
        warm: WarmUp,
        source: Source,
        entries: list[Entry],
        verify: bool,
        on_progress: Callable[[WarmUp], None] | None,
    ) -> None:
        """Fetch every entry on the cache's worker threads; the first failure stops the rest."""
        workers = getattr(self.cache, "workers", 16)
        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = [pool.submit(self._fetch_one, warm, source, e, verify) for e in entries]
            while True:
                done, pending = wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION)
                if on_progress is not None:
                    on_progress(warm)
                failed = [f for f in done if f.exception() is not None]
                if failed or not pending:
                    break
            if failed:
                user_cancelled = warm.cancel.is_set()
                warm.cancel.set()  # stop the rest; finished objects stay cached
                for f in pending:
                    f.cancel()
                wait(futures)
                raise _first_failure(futures, user_cancelled, source)

    def _fetch_one(self, warm: WarmUp, source: Source, entry: Entry, verify: bool) -> None:
        if warm.cancel.is_set():
            raise Cancelled(f"the warm-up of {warm.dataset!r} was cancelled")
        _path, fetched = self.store.ensure(
            source,
            entry,
            verify=verify,
            cancel=warm.cancel,
            on_bytes=lambda n: warm.add_bytes(n),
        )
        with warm.lock:
            warm.files_done += 1
            if not fetched:
                warm.files_cached += 1
        if not fetched:
            warm.add_bytes(entry.size, fetched=False)


def _first_failure(
    futures: list[Future[None]], user_cancelled: bool, source: Source
) -> BaseException:
    """The error a failed warm-up reports: the user's cancel, else the root cause rather than
    the cancellations it triggered in sibling fetches."""
    errors = [e for f in futures if not f.cancelled() and (e := f.exception()) is not None]
    root = [e for e in errors if not isinstance(e, Cancelled)]
    first = errors[0] if user_cancelled or not root else root[0]
    if isinstance(first, LabrigError):
        return first
    return source.error(first, "warming")
