"""Datasets and kernel resources over REST: what ``labrig.datasets``, ``labrig.resources`` and
their CLI groups call on ``DatasetCatalog`` and ``ResourceService``, with the same shapes."""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import LabrigError, Unavailable
from ..store import Page, PageRequest
from .http import ApiClient, NotOverRest, RefusesWhatRestLacks, api_path
from .models import page_of, page_params

#: Seconds between polls of a warm-up the server runs.
WARM_POLL = 0.5


class RemoteWarmUp:
    """A warm-up the server runs, as the progress callbacks of ``warm()`` read one."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self.state: str = state["state"]
        self.error: str | None = state.get("error")

    @property
    def running(self) -> bool:
        return self.state in ("listing", "running")

    def as_json(self) -> dict[str, Any]:
        return dict(self._state)


class RestDatasets(RefusesWhatRestLacks):
    """``DatasetCatalog``'s calls, made on the server."""

    reached_as = "labrig.connect().datasets"

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        return page_of(self.api.get("datasets", **page_params(page)))

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get(api_path("datasets", name))
        return found

    def visible(self, name: str) -> None:
        self.get(name)  # a NotFound for a dataset this user may not see

    def versions_of(self, names: Iterable[str]) -> dict[str, str]:
        return {name: str(self.get(name)["version"]) for name in names}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.api.post("datasets", body)
        return created

    def delete(self, name: str) -> None:
        self.api.delete(api_path("datasets", name))

    def warm(
        self,
        name: str,
        *,
        verify: bool = False,
        on_progress: Callable[[Any], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Start the warm-up on the server and follow it to its end (Ctrl-C cancels it there)."""
        path = api_path("datasets", name, "warm")
        state: dict[str, Any] = self.api.post(path, {"verify": verify})
        try:
            while True:
                if state["state"] == "idle":  # a server started since knows of none
                    raise Unavailable(
                        f"the server no longer follows the warm-up of {name} (it restarted?): "
                        "run it again; what is cached stays cached"
                    )
                view = RemoteWarmUp(state)
                if on_progress is not None:
                    on_progress(view)
                if not view.running:
                    break
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                time.sleep(WARM_POLL)
                state = self.api.get(path)
        except KeyboardInterrupt:
            self.api.delete(path)
            raise
        if view.state != "succeeded":
            raise LabrigError(view.error or f"the warm-up of {name} ended {view.state}")
        return state

    def refresh(self, name: str) -> dict[str, Any]:
        preview: dict[str, Any] = self.api.post(api_path("datasets", name, "refresh"))
        return preview

    def confirm_refresh(self, name: str, new_version: str) -> dict[str, Any]:
        path = api_path("datasets", name, "refresh", "confirm")
        confirmed: dict[str, Any] = self.api.post(path, {"version": new_version})
        return confirmed

    def mount(self, name: str, path: str | None = None) -> dict[str, Any]:
        body = {"path": path} if path is not None else None
        mounted: dict[str, Any] = self.api.post(api_path("datasets", name, "mount"), body)
        return mounted

    def unmount(self, name: str) -> None:
        self.api.delete(api_path("datasets", name, "mount"))

    def cache_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.api.get("dataset-cache")
        return stats

    def evict(self) -> dict[str, Any]:
        raise NotOverRest(
            "evicting the dataset cache acts on the server's host and is not part of its REST "
            "API: run `labrig datasets cache --evict` in the server's terminal (or ask an "
            "administrator)"
        )

    def kernel_env(self, notebook_path: str | None = None) -> dict[str, str]:
        raise NotOverRest(
            "a kernel's dataset variables are made by the server when it starts the kernel; "
            "this kernel has them already as LABRIG_DATASET_<NAME>"
        )


class RestProfile:
    """A resource profile as the server lists it (``Profile.json()``)."""

    def __init__(self, value: dict[str, Any]) -> None:
        self._value = value
        self.slug: str = value["slug"]

    def json(self) -> dict[str, Any]:
        return dict(self._value)


class RestResources(RefusesWhatRestLacks):
    """``ResourceService``'s calls, made on the server (which restarts the notebook's kernels
    with a changed request, as for the panel)."""

    reached_as = "labrig.connect().resources"

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        return page_of(self.api.get("resources", **page_params(page)))

    def show(self, notebook_path: str) -> dict[str, Any]:
        shown: dict[str, Any] = self.api.get(api_path("resources", notebook_path))
        return shown

    def save(self, notebook_path: str, body: dict[str, Any]) -> dict[str, Any]:
        saved: dict[str, Any] = self.api.put(api_path("resources", notebook_path), body)
        return saved

    def delete(self, notebook_path: str) -> None:
        self.api.delete(api_path("resources", notebook_path))

    def profiles(self) -> builtins.list[RestProfile]:
        return [RestProfile(item) for item in self.api.get("resource-profiles")["items"]]

    def capacity(self) -> dict[str, Any]:
        capacity: dict[str, Any] = self.api.get("resource-capacity")
        return capacity
