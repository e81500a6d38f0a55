"""The Run-as-job form's parameters, as papermill's ``inspect_notebook`` reports them."""

from __future__ import annotations

from labrig.jobs.spec import form_parameters


def test_an_unannotated_parameter_has_no_declared_type_but_a_type_from_its_default() -> None:
    (param,) = form_parameters(
        {"lr": {"name": "lr", "inferred_type_name": "None", "default": "3e-4", "help": ""}}
    )
    assert param["declared_type"] is None
    assert param["type"] == "float"
    assert param["value"] == 3e-4


def test_an_annotated_parameter_keeps_its_declared_type() -> None:
    (param,) = form_parameters(
        {"epochs": {"name": "epochs", "inferred_type_name": "int", "default": "10", "help": "n"}}
    )
    assert param["declared_type"] == "int"
    assert (param["type"], param["value"], param["help"]) == ("int", 10, "n")
