"""A notebook's running kernel restarts when its resource request changes, wherever it changed.

The panel's Apply (REST PUT/DELETE) restarts the notebook's kernels at once. A request saved
anywhere else (``labrig resources request``, ``labrig.resources.request()`` in a script, another
server on the same database) is noticed by the server that runs the kernel, which compares the
saved request with the one each kernel started with every ``request_poll_interval`` seconds.

Either way the restart is JupyterLab's own (``restart_kernel``): the kernel keeps its id and its
ports, so the open notebook stays connected and only loses its variables, as with Kernel >
Restart. A provisioner takes part by saying what a kernel started with: an ``applied_request``
property, ``(notebook_path, ResourceRequest | None)``, None when it runs for no notebook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..errors import Conflict, LabrigError
from .profiles import ResourceRequest
from .service import ResourceService

Applied = tuple[str, ResourceRequest | None]


def applied_request(kernel: Any) -> Applied | None:
    """What a running kernel started with, if its provisioner says (labrig's does)."""
    applied: Applied | None = getattr(getattr(kernel, "provisioner", None), "applied_request", None)
    return applied


class KernelRestarts:
    """Restarts the kernels of a notebook, one notebook at a time."""

    def __init__(
        self,
        resources: ResourceService,
        kernel_manager: Any,
        session_manager: Any,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.resources = resources
        self.kernel_manager = kernel_manager
        self.session_manager = session_manager
        self.log = log
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def holding(self, path: str) -> AsyncIterator[None]:
        """While held, no other change to ``path``'s kernels starts (save + restart is one)."""
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            yield

    async def kernels_of(self, path: str) -> list[str]:
        """The running kernels of the notebook: its sessions' and those holding its resources."""
        ids: list[str] = []
        for session in await self.session_manager.list_sessions():
            kernel = session.get("kernel") or {}
            try:
                check = self.resources.check_path
                same = await asyncio.to_thread(check, session.get("path") or "") == path
            except LabrigError:
                same = False
            if same and kernel.get("id") and kernel["id"] not in ids:
                ids.append(kernel["id"])
        for holder in await asyncio.to_thread(self.resources.holders):
            kernel_id = holder["holder"].removeprefix("kernel:")
            if (
                holder["notebook_path"] == path
                and kernel_id in self.kernel_manager
                and kernel_id not in ids
            ):
                ids.append(kernel_id)
        return ids

    async def restart_notebook(self, path: str) -> list[str]:
        """Restart the notebook's kernels so its saved request applies now (hold ``path``)."""
        ids = await self.kernels_of(path)
        for kernel_id in ids:
            try:
                await self.kernel_manager.restart_kernel(kernel_id)
            except LabrigError:
                raise
            except Exception as err:
                raise Conflict(
                    f"the request for {path} is saved, but its kernel did not restart: {err}",
                    field="notebook_path",
                ) from err
        return ids

    def _changed(self, applied: Applied) -> bool:
        """Whether the notebook's saved request differs from the one the kernel started with
        (blocking: reads the database)."""
        path, started_with = applied
        return self.resources.request_for(path) != started_with

    def _running(self) -> dict[str, Applied]:
        running: dict[str, Applied] = {}
        for kernel_id in list(self.kernel_manager.list_kernel_ids()):
            with contextlib.suppress(KeyError):  # shut down meanwhile
                kernel = self.kernel_manager.get_kernel(kernel_id)
                ready = getattr(kernel, "ready", None)
                applied = applied_request(kernel)
                if applied is not None and (ready is None or ready.done()):
                    running[kernel_id] = applied
        return running

    async def restart_stale(self) -> list[str]:
        """Restart every running kernel whose notebook's request changed since it started."""
        restarted: list[str] = []
        for kernel_id, (path, _) in self._running().items():
            async with self.holding(path):
                # Looked at again under the lock: an Apply may have restarted it meanwhile.
                applied = applied_request(self._kernel(kernel_id))
                if applied is None or not await asyncio.to_thread(self._changed, applied):
                    continue
                if await self._restart_for_new_request(kernel_id, path):
                    restarted.append(kernel_id)
        return restarted

    def _kernel(self, kernel_id: str) -> Any:
        try:
            return self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            return None

    async def _restart_for_new_request(self, kernel_id: str, path: str) -> bool:
        self.log.info("labrig: the request for %s changed; restarting kernel %s", path, kernel_id)
        try:
            await self.kernel_manager.restart_kernel(kernel_id)
        except Exception as err:  # the kernel is down: say why where the panel looks
            message = f"kernel did not restart with the new request: {err}"
            self.log.warning("labrig: %s (%s)", message, path, exc_info=True)
            await asyncio.to_thread(
                self.resources.record_event, path, f"kernel:{kernel_id}", "stopped", message
            )
            return False
        return True

    async def watch(self, interval: float) -> None:
        """Every ``interval`` seconds, restart the kernels whose request changed elsewhere."""
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                await self.restart_stale()
            except Exception:  # one bad round must not end the watch
                self.log.exception("labrig: checking kernels for changed requests failed")
