"""The model store's periodic garbage collection, run by the server in the background."""

from __future__ import annotations

import asyncio
import logging

from ..errors import LabrigError
from .registry import ModelRegistry


async def periodic_gc(registry: ModelRegistry, interval: float, log: logging.Logger) -> None:
    """Every ``interval`` seconds, remove blobs no version references (off the event loop)."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            result = await asyncio.to_thread(registry.gc)
        except LabrigError as err:
            log.warning("labrig: model store gc failed: %s", err.message)
            continue
        if result["removed_blobs"] or result["removed_tmp"] or result["aborted_uploads"]:
            log.info(
                "labrig: model store gc removed %d blobs (%d bytes) and %d temporary files, "
                "and aborted %d unfinished uploads",
                result["removed_blobs"],
                result["freed_bytes"],
                result["removed_tmp"],
                result["aborted_uploads"],
            )
