"""The README and the docs stay true: the README opens with the two commands, every setting of
every configurable class is documented in the administrator guide, the generated references
match the code, and every relative link leads somewhere."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from traitlets.config import Configurable

import labrig

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
ADMIN_GUIDE = (ROOT / "docs" / "admin-guide.md").read_text()


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_generate"] = module
    spec.loader.exec_module(module)
    return module


generate = _generator()


def test_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["make run", "make test"]


def _subclasses(cls: type[Configurable]) -> Iterator[type[Configurable]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_configurable_class_is_in_the_admin_guide() -> None:
    """A new class with settings anywhere in labrig must be added to docs/generate.py."""
    for module in pkgutil.walk_packages(labrig.__path__, "labrig."):
        if ".store.migrations" not in module.name:
            importlib.import_module(module.name)
    with_settings = {
        cls
        for cls in _subclasses(Configurable)
        if cls.__module__.startswith("labrig.") and cls.class_own_traits(config=True)
    }
    documented = {cls for cls, _ in generate.setting_classes()}
    assert with_settings - documented == set(), "add these to SETTINGS in docs/generate.py"


@pytest.mark.parametrize(
    ("cls", "section"), generate.setting_classes(), ids=lambda v: getattr(v, "__name__", v)
)
def test_every_setting_is_documented_with_help(cls: type, section: str) -> None:
    traits = cls.class_own_traits(config=True)  # type: ignore[attr-defined]
    assert traits
    for name, trait in traits.items():
        assert trait.help, f"{section}.{name} has no help"
        assert f"| `{section}.{name}` |" in ADMIN_GUIDE, (
            f"docs/admin-guide.md lacks {section}.{name}"
        )


@pytest.mark.parametrize("path", sorted(generate.outputs()), ids=lambda p: p.name)
def test_generated_docs_are_up_to_date(path: Path) -> None:
    # Earlier tests in the same process make settings objects, and a Type trait then holds
    # its class instead of the import string: the docs must come out the same either way.
    from labrig.settings import LabrigSettings

    settings = LabrigSettings()
    assert settings.kernel_backend
    assert settings.job_backend_class
    expected = generate._normalise(generate.outputs()[path])
    assert path.read_text() == expected, f"{path.name} is stale: run `python docs/generate.py`"


def test_the_readme_says_nothing_is_still_being_built() -> None:
    assert "being built" not in README


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_and_images_exist(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{doc.name} links to {target}, which does not exist"
