"""Which credentials a user's dataset may name: only environment variables and files an
administrator allowed (glob patterns), never labrig's or Jupyter's own variables, and a file
where its symlinks lead."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrig.dataset_mounts.source_options import check_credentials_allowed
from labrig.errors import InvalidInput


def refusal(options: dict[str, object], env: list[str], files: list[str]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_credentials_allowed("ds", options, env, files)
    return caught.value


def test_allowed_variables_pass_by_pattern() -> None:
    options = {"credentials_env": {"key": "DATASETS_S3_KEY", "secret": "DATASETS_S3_SECRET"}}
    check_credentials_allowed("ds", options, ["DATASETS_S3_*"], [])
    check_credentials_allowed("ds", {}, [], [])  # no credentials: nothing to allow


@pytest.mark.parametrize(
    ("var", "allowed", "words"),
    [
        ("AWS_SECRET_ACCESS_KEY", [], ["AWS_SECRET_ACCESS_KEY", "allowed: none"]),
        ("AWS_SECRET_ACCESS_KEY", ["DATASETS_*"], ["AWS_SECRET_ACCESS_KEY", "DATASETS_*"]),
        ("datasets_s3_key", ["DATASETS_*"], ["datasets_s3_key"]),  # patterns are case-exact
    ],
)
def test_a_variable_not_allowed_is_refused_naming_it_and_the_setting(
    var: str, allowed: list[str], words: list[str]
) -> None:
    error = refusal({"credentials_env": {"secret": var}}, allowed, [])
    assert error.field == "options.credentials_env"
    for word in [*words, "c.DatasetCache.allowed_credentials_env", "'ds'"]:
        assert word in error.message, error.message


@pytest.mark.parametrize("var", ["LABRIG_DATABASE_URL", "JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"])
def test_labrig_and_jupyter_variables_are_refused_even_under_a_catch_all(var: str) -> None:
    error = refusal({"credentials_env": {"token": var}}, ["*"], [])
    assert var in error.message
    assert "no dataset may name" in error.message


def test_a_credentials_file_must_be_allowed_where_its_symlinks_lead(tmp_path: Path) -> None:
    allowed_dir, other = tmp_path / "allowed", tmp_path / "server-home"
    allowed_dir.mkdir()
    other.mkdir()
    (allowed_dir / "team.json").write_text("{}")
    (other / "credentials").write_text("{}")
    (allowed_dir / "link.json").symlink_to(other / "credentials")
    patterns = [f"{allowed_dir}/*"]
    check_credentials_allowed(
        "ds", {"credentials_file": str(allowed_dir / "team.json")}, [], patterns
    )
    for path in (other / "credentials", allowed_dir / "link.json", allowed_dir / "../x"):
        error = refusal({"credentials_file": str(path)}, [], patterns)
        assert error.field == "options.credentials_file"
        assert "c.DatasetCache.allowed_credentials_files" in error.message
    assert "allowed: none" in refusal({"credentials_file": "/etc/x"}, [], []).message
