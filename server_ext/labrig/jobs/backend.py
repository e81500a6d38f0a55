"""Where job ranks run: local torchrun agents, or a Kubeflow PyTorchJob/TrainJob."""

from __future__ import annotations

import importlib.util

from ..backend import Backend


class JobBackend(Backend):
    """Runs the ranks of a job and reports what they are doing."""


class LocalJobBackend(JobBackend):
    """Ranks as local processes detached from the Jupyter server."""

    kind = "local"

    def capabilities(self) -> dict[str, str]:
        torch = importlib.util.find_spec("torch") is not None
        return {
            "jobs.launcher": "torchrun" if torch else "papermill (install torch for torchrun)",
        }
