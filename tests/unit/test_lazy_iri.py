"""jsonschema's IRI format checker loads when it is used, not when labrig imports nbformat."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_iri_formats_are_still_checked_and_load_on_first_use() -> None:
    code = textwrap.dedent(
        """
        import sys
        import labrig
        import nbformat
        import jsonschema

        from labrig._lazy_iri import _Deferred

        assert isinstance(sys.modules["rfc3987_syntax"], _Deferred), "parsed at import"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        nbformat.validate(nb)
        assert isinstance(sys.modules["rfc3987_syntax"], _Deferred), "nbformat needed it"

        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        validator = jsonschema.Draft202012Validator({"format": "iri"}, format_checker=checker)
        assert validator.is_valid("https://example.org/ü")
        assert not validator.is_valid("https://exa mple.org/")
        reference = jsonschema.Draft202012Validator(
            {"format": "iri-reference"}, format_checker=checker
        )
        assert reference.is_valid("../ü")
        assert not isinstance(sys.modules["rfc3987_syntax"], _Deferred)
        import rfc3987_syntax

        assert rfc3987_syntax.is_valid_syntax("iri", "https://example.org/")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_nothing_changes_when_jsonschema_was_imported_first() -> None:
    code = "import jsonschema, sys, labrig\nprint(type(sys.modules['rfc3987_syntax']).__name__)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "module"
