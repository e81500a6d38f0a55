"""Jobs tell the truth about notebooks that were not written for labrig, as papermill users
expect: the real error of a cell, the cell as the user's notebook numbers it, the kernel rules,
notebooks in other languages, and nothing left behind by a refused submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from labrig.errors import InvalidInput
from labrig.jobs.service import JobService

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def write(root: Path, name: str, cells: list[Any], kernelspec: dict[str, str] | None) -> str:
    nb = nbformat.v4.new_notebook()
    if kernelspec is not None:
        nb.metadata["kernelspec"] = kernelspec
    nb.cells = cells
    nbformat.write(nb, root / name)
    return name


def code(source: str, parameters: bool = False) -> Any:
    cell = nbformat.v4.new_code_cell(source)
    if parameters:
        cell.metadata["tags"] = ["parameters"]
    return cell


PYTHON3 = {"name": "python3", "display_name": "Python 3", "language": "python"}


def test_a_cell_whose_error_has_no_message_is_reported_with_the_kernels_error(
    jobs: JobService, root: Path, wait: Any
) -> None:
    name = write(
        root,
        "magic.ipynb",
        [nbformat.v4.new_markdown_cell("# Setup"), code("x = 1"), code("%not_a_magic")],
        PYTHON3,
    )
    done = wait(jobs, jobs.submit({"notebook_path": name})["id"], FINAL)
    assert (done["status"], done["reason"]) == (
        "FAILED",
        "cell 3 ('%not_a_magic') raised UsageError: Line magic function `%not_a_magic` not "
        "found. [rank 0]",
    )
    rank = done["ranks"][0]
    assert (rank["state"], rank["cells_done"], rank["cells"]) == ("failed", 2, 3)


def test_the_failing_cell_is_numbered_as_in_the_users_notebook(
    local_jobs: JobService, root: Path, wait: Any
) -> None:
    name = write(
        root,
        "numbered.ipynb",
        [
            nbformat.v4.new_markdown_cell("# Train"),
            code("lr = 0.1", parameters=True),
            code("y = 2"),
            code("1 / 0"),
            code("print('never')"),
        ],
        PYTHON3,
    )
    job = local_jobs.submit({"notebook_path": name, "parameters": {"lr": 0.5}})
    done = wait(local_jobs, job["id"], FINAL)
    # The output notebook has papermill's injected cell after the parameters cell: it is not
    # counted, so the user finds the cell where they see it.
    assert done["reason"] == "cell 4 ('1 / 0') raised ZeroDivisionError: division by zero [rank 0]"
    assert done["ranks"][0]["state"] == "failed"


def test_a_kernelspec_named_python_runs_on_python3_as_papermill_does(
    local_jobs: JobService, root: Path, wait: Any
) -> None:
    name = write(root, "py.ipynb", [code("print('ran')")], {"name": "python", "display_name": "P"})
    job = local_jobs.submit({"notebook_path": name})
    assert job["spec"]["kernel_name"] == "python3"
    assert wait(local_jobs, job["id"], FINAL)["status"] == "SUCCEEDED"


def test_a_notebook_naming_no_kernel_runs_on_python3_and_the_form_says_so(
    local_jobs: JobService, root: Path, wait: Any
) -> None:
    name = write(root, "bare.ipynb", [code("print('ran')")], None)
    form = local_jobs.job_form(name)
    assert form["kernel_name"] is None
    assert "It names no kernel: it runs on python3." in form["note"]
    job = local_jobs.submit({"notebook_path": name})
    assert job["spec"]["kernel_name"] == "python3"
    assert wait(local_jobs, job["id"], FINAL)["status"] == "SUCCEEDED"


def test_another_languages_parameters_are_said_to_be_uninspectable(
    local_jobs: JobService, root: Path
) -> None:
    name = write(
        root,
        "model.ipynb",
        [code("alpha <- 0.1", parameters=True), code("print(alpha)")],
        {"name": "ir", "display_name": "R", "language": "R"},
    )
    form = local_jobs.job_form(name)
    assert form["has_parameters_cell"] is True
    assert form["parameters"] == []
    assert form["note"] == (
        "The parameters of a R notebook cannot be inspected: the values you add are injected "
        "as given, after its parameters cell."
    )
    # Its values are not refused as unknown: what stops it here is the missing R kernel.
    with pytest.raises(InvalidInput) as refused:
        local_jobs.submit({"notebook_path": name, "parameters": {"alpha": 0.5}})
    assert refused.value.field == "kernel_name"
    assert "kernel 'ir' is not installed here" in refused.value.message


def test_a_refused_submission_leaves_no_snapshot_behind(
    local_jobs: JobService, root: Path, labrig_env: Path
) -> None:
    name = write(root, "p.ipynb", [code("lr = 0.1", parameters=True), code("print(lr)")], PYTHON3)
    snapshots = labrig_env / "snapshots"
    before = set(snapshots.glob("*")) if snapshots.exists() else set()
    with pytest.raises(InvalidInput) as refused:
        local_jobs.submit({"notebook_path": name, "parameters": {"lr": "fast"}})
    assert refused.value.field == "parameters.lr"
    after = set(snapshots.glob("*")) if snapshots.exists() else set()
    assert after == before
