"""``labrig.models.widget()``: register a model version from a form in the notebook."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..errors import LabrigError
from . import python_api


def parse_metrics(text: str) -> dict[str, float]:
    """``acc=0.91, loss=0.3`` (or JSON) -> {"acc": 0.91, "loss": 0.3}."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("metrics JSON must be an object")
        return value
    metrics: dict[str, float] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        key, sep, raw = part.partition("=")
        if not sep:
            raise ValueError(f"{part.strip()!r} is not NAME=NUMBER")
        number = float(raw)
        if not math.isfinite(number):
            raise ValueError(f"metric {key.strip()} is not a finite number")
        metrics[key.strip()] = number
    return metrics


class RegisterWidget(widgets.VBox):
    """Name (with the existing models to pick from), file or folder, metrics, note."""

    def __init__(self, **kwargs: Any) -> None:
        self.registry = python_api.registry()
        self.name = widgets.Combobox(
            placeholder="model name, e.g. resnet-mini",
            options=self.registry.names(limit=500),
            ensure_option=False,
            description="Model",
        )
        self.path = widgets.Text(placeholder="model.pt or a folder", description="Files")
        self.metrics = widgets.Text(placeholder="acc=0.91, loss=0.3", description="Metrics")
        self.note = widgets.Textarea(placeholder="what changed", description="Note")
        self.button = widgets.Button(description="Register", button_style="primary", icon="upload")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="Upload")
        self.result = widgets.HTML(value="")
        self.version: dict[str, Any] | None = None
        self.button.on_click(self.register)
        super().__init__(
            [
                self.name,
                self.path,
                self.metrics,
                self.note,
                self.button,
                self.progress,
                self.result,
            ],
            **kwargs,
        )

    def _progress(self, done: int, total: int) -> None:
        self.progress.value = (done / total) if total else 1.0

    def register(self, _button: Any = None) -> dict[str, Any] | None:
        self.button.disabled = True
        self.progress.value = 0.0
        self.progress.bar_style = ""
        self.version = None
        try:
            metrics = parse_metrics(self.metrics.value)
            path = Path(self.path.value).expanduser()
            self.version = python_api.register(
                self.name.value,
                path,
                metrics=metrics,
                note=self.note.value,
                progress=self._progress,
                reg=self.registry,
            )
        except (LabrigError, ValueError) as err:
            message = err.message if isinstance(err, LabrigError) else str(err)
            self.progress.bar_style = "danger"
            self.result.value = f'<span class="labrig-error">{html.escape(message)}</span>'
            return None
        finally:
            self.button.disabled = False
        self.progress.value = 1.0
        self.progress.bar_style = "success"
        ref = html.escape(self.version["ref"])
        name = self.version["model"]
        if name not in self.name.options:
            self.name.options = (*self.name.options, name)
        self.result.value = (
            f"Registered <b>{ref}</b> &middot; open it in the labrig panel under Models "
            f"&middot; <code>labrig.models.load(&quot;{ref}&quot;)</code>"
        )
        return self.version
