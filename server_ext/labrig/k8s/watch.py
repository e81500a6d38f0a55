"""A cache of one kind's objects, filled by one list and kept current by one watch.

A reconcile pass then reads the cache (no request per job, however many there are). The watch
resumes from the last resourceVersion it saw, so no change is missed while the connection is
re-opened; when the server no longer keeps that history (410 Gone) the cache lists again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..errors import LabrigError
from .client import Gone, Kind, Kube

log = logging.getLogger("labrig.k8s")
WATCH_SECONDS = 240
RETRY_SECONDS = 2.0


class Informer:
    def __init__(self, kube: Kube, kind: Kind, selector: str | None) -> None:
        self.kube, self.kind, self.selector = kube, kind, selector
        #: How long one watch request stays open before it is resumed from where it was.
        self.watch_seconds = WATCH_SECONDS
        self.objects: dict[str, dict[str, Any]] = {}
        self.resource_version = ""
        self.synced = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        #: The last failure, for the reasons shown while the cluster cannot be watched.
        self.error: LabrigError | None = None

    def list_now(self) -> list[dict[str, Any]]:
        """List once (for a process that does not keep a watch open, such as the CLI)."""
        listing = self.kube.list(self.kind, self.selector)
        items: list[dict[str, Any]] = listing.get("items") or []
        return items

    def items(self) -> list[dict[str, Any]]:
        """The cached objects when the watch is live, else a fresh list."""
        if self.thread is not None and self.synced.is_set():
            with self.lock:
                return list(self.objects.values())
        if self.thread is not None and self.error is not None:
            raise self.error
        return self.list_now()

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(
                target=self._run, name=f"labrig-watch-{self.kind.plural}", daemon=True
            )
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def _relist(self) -> None:
        listing = self.kube.list(self.kind, self.selector)
        objects = {self._key(o): o for o in listing.get("items") or []}
        with self.lock:
            self.objects = objects
            self.resource_version = str((listing.get("metadata") or {}).get("resourceVersion", ""))
        self.error = None
        self.synced.set()

    @staticmethod
    def _key(obj: dict[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        return f"{meta.get('namespace', '')}/{meta.get('name', '')}"

    def _apply(self, event: dict[str, Any]) -> None:
        obj = event["object"]
        version = (obj.get("metadata") or {}).get("resourceVersion")
        with self.lock:
            if event["type"] in ("ADDED", "MODIFIED"):
                self.objects[self._key(obj)] = obj
            elif event["type"] == "DELETED":
                self.objects.pop(self._key(obj), None)
            if version:
                self.resource_version = str(version)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self.synced.is_set():
                    self._relist()
                for event in self.kube.watch(
                    self.kind, self.resource_version, self.selector, self.watch_seconds
                ):
                    self._apply(event)
                    if self.stopping.is_set():
                        return
            except Gone:
                log.info("labrig: the %s watch expired (410 Gone); listing again", self.kind.plural)
                self.synced.clear()
            except LabrigError as err:
                log.warning("labrig: watching %s failed: %s", self.kind.plural, err.message)
                self.error = err
                self.synced.clear()
                self.stopping.wait(RETRY_SECONDS)
