"""GPU discovery (NVML through ``nvidia-ml-py`` when present) and live GPU utilisation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gpu:
    uuid: str
    model: str
    memory: int | None = None
    index: int | None = None
    source: str = "configured"

    def json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "model": self.model, "memory": self.memory, "index": self.index}


def _nvml() -> Any | None:
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as err:  # noqa: BLE001 - any NVML failure means "no NVML here"
        log.debug("NVML is installed but does not start: %s", err)
        return None
    return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def discover_nvml() -> list[Gpu]:
    """The GPUs NVML reports, in PCI bus order; empty without NVML or a driver."""
    nvml = _nvml()
    if nvml is None:
        return []
    found: list[Gpu] = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        found.append(
            Gpu(
                uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                model=_text(nvml.nvmlDeviceGetName(handle)),
                memory=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
                index=index,
                source="nvml",
            )
        )
    return found


def nvml_usage(uuids: list[str]) -> dict[str, dict[str, int | None]]:
    """Utilisation (%) and memory used (bytes) per GPU UUID, where NVML can tell."""
    if not uuids:
        return {}  # no NVML to start (nor pynvml to look for) for a kernel without GPUs
    nvml = _nvml()
    result: dict[str, dict[str, int | None]] = {}
    for uuid in uuids:
        result[uuid] = {"utilization": None, "memory_used": None}
        if nvml is None:
            continue
        try:
            handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
            result[uuid] = {
                "utilization": int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                "memory_used": int(nvml.nvmlDeviceGetMemoryInfo(handle).used),
            }
        except Exception as err:  # noqa: BLE001 - a configured GPU NVML does not know
            log.debug("no NVML usage for %s: %s", uuid, err)
    return result
