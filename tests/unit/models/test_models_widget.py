"""The registration form, driven through its widget model state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

import labrig.models
from labrig.models import python_api
from labrig.models.form import RegisterWidget, parse_metrics


@pytest.fixture(autouse=True)
def fresh_registry(labrig_env: Path) -> Iterator[None]:
    python_api.reset()
    yield
    python_api.reset()


def state(widget: object) -> dict[str, object]:
    return widget.get_state()  # type: ignore[attr-defined, no-any-return]


def test_the_form_registers_and_shows_the_new_version(tmp_path: Path) -> None:
    (tmp_path / "old.pt").write_bytes(b"old")
    labrig.models.register("existing", tmp_path / "old.pt")
    form = labrig.models.widget()
    assert isinstance(form, RegisterWidget)
    assert list(state(form.name)["options"]) == ["existing"]  # type: ignore[call-overload]

    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"w" * (20 * 1024 * 1024))
    form.name.value = "resnet-mini"
    form.path.value = str(ckpt)
    form.metrics.value = "acc=0.91, loss=0.3"
    form.note.value = "from the form"
    seen: list[float] = []
    form.progress.observe(lambda change: seen.append(change["new"]), names="value")
    form.button.click()

    assert form.version is not None
    assert form.version["ref"] == "resnet-mini/1"
    assert form.version["metrics"] == {"acc": 0.91, "loss": 0.3}
    assert state(form.progress)["value"] == 1.0
    assert state(form.progress)["bar_style"] == "success"
    assert len([v for v in seen if 0 < v < 1]) >= 1  # moved during the upload
    assert "resnet-mini/1" in str(state(form.result)["value"])
    assert "resnet-mini" in list(state(form.name)["options"])  # type: ignore[call-overload]
    assert state(form.button)["disabled"] is False


@pytest.mark.parametrize(
    ("name", "path", "metrics", "message"),
    [
        ("bad/name", "model.pt", "", "is not allowed"),
        ("m", "missing.pt", "", "does not exist"),
        ("m", "model.pt", "acc=nan", "not a finite number"),
        ("m", "model.pt", "acc", "is not NAME=NUMBER"),
        ("m", "model.pt", "acc=&lt;b&gt;", "could not convert"),
    ],
)
def test_bad_input_is_shown_escaped_and_registers_nothing(
    tmp_path: Path, name: str, path: str, metrics: str, message: str
) -> None:
    (tmp_path / "model.pt").write_bytes(b"w")
    form = RegisterWidget()
    form.name.value = name
    form.path.value = str(tmp_path / path)
    form.metrics.value = metrics
    form.button.click()
    assert form.version is None
    assert state(form.progress)["bar_style"] == "danger"
    assert message in str(state(form.result)["value"])
    assert "<b>" not in str(state(form.result)["value"])
    assert labrig.models.open_registry().names() == []


def test_parse_metrics_accepts_json() -> None:
    assert parse_metrics('{"acc": 1}') == {"acc": 1}
    assert parse_metrics("") == {}
