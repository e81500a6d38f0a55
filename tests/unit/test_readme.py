"""The README stays true: it opens with the two commands and documents every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrig.dataset_mounts.cache import LocalDatasetCache
from labrig.jobs.local import LocalJobBackend
from labrig.k8s.settings import KubernetesJobSettings
from labrig.resources.service import ResourceService
from labrig.settings import LabrigSettings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["make run", "make test"]


@pytest.mark.parametrize(
    ("cls", "section"),
    [
        (LabrigSettings, "LabrigApp"),  # LabrigApp's settings, read by the CLI too
        (LocalDatasetCache, "LocalDatasetCache"),
        (ResourceService, "ResourceService"),
        (LocalJobBackend, "LocalJobBackend"),
    ],
)
def test_every_setting_is_documented_with_help(cls: type, section: str) -> None:
    traits = cls.class_own_traits(config=True)  # type: ignore[attr-defined]
    if cls is not LocalJobBackend:
        assert traits
    for name, trait in traits.items():
        assert trait.help, f"{section}.{name} has no help"
        assert f"`{section}.{name}`" in README, f"README lacks {section}.{name}"


def test_every_kubernetes_job_setting_is_in_its_table() -> None:
    section = README.split("### Jobs on Kubernetes")[1].split("\n## ")[0]
    for name, trait in KubernetesJobSettings.class_own_traits(config=True).items():
        assert trait.help, f"KubernetesJobBackend.{name} has no help"
        assert f"`{name}`" in section, f"README's Kubernetes table lacks {name}"
