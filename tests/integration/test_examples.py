"""The demo workspace that `make run` opens: its notebook trains for real and is parameterised."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import papermill

EXAMPLES = Path(__file__).parents[2] / "examples"
NOTEBOOK = EXAMPLES / "train_moons.ipynb"


def test_parameters_cell_is_tagged_and_typed() -> None:
    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert {name: p["inferred_type_name"] for name, p in params.items()} == {
        "lr": "float",
        "epochs": "int",
        "hidden": "int",
        "seed": "int",
        "data_path": "str",
        "output_path": "str",
    }
    assert params["lr"]["help"] == "learning rate of the Adam optimiser"


def test_notebook_trains_with_injected_parameters(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"epochs": 80, "output_path": "weights.pt"},
        cwd=str(tmp_path),
        progress_bar=False,
    )
    text = "".join(
        "".join(output.get("text", ""))
        for cell in json.loads(out.read_text())["cells"]
        for output in cell.get("outputs", [])
    )
    accuracy = float(text.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.9, text
    assert (tmp_path / "weights.pt").stat().st_size > 0
