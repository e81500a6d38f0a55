"""The git part of a registration's lineage: real repositories made with the git CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labrig.models import lineage


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "models" / "deep").mkdir(parents=True)
    git("init", "-q", cwd=root)
    (root / "train.py").write_text("print('train')\n")
    git("add", "train.py", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "first", cwd=root)
    return root


def test_a_subdirectory_of_a_repository_reports_its_commit_and_dirtiness(repo: Path) -> None:
    found = lineage.git_commit(repo / "models" / "deep")
    assert found is not None
    assert len(found["commit"]) == 40
    assert found["dirty"] is False
    (repo / "train.py").write_text("print('changed')\n")
    assert lineage.git_commit(repo / "models") == {"commit": found["commit"], "dirty": True}


def test_a_linked_worktree_is_found_through_its_git_file(repo: Path, tmp_path: Path) -> None:
    git("worktree", "add", "-q", str(tmp_path / "linked"), cwd=repo)
    assert (tmp_path / "linked" / ".git").is_file()
    assert lineage.git_commit(tmp_path / "linked") is not None


def test_a_bare_repository_counts_as_one_to_probe(tmp_path: Path) -> None:
    git("init", "-q", "--bare", str(tmp_path / "bare.git"), cwd=tmp_path)
    assert lineage._may_be_in_git_repository(tmp_path / "bare.git")


def test_outside_any_repository_git_is_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registrations outside a repository skip the subprocess: none may start here."""
    outside = tmp_path / "scratch"
    outside.mkdir()
    monkeypatch.delenv("GIT_DIR", raising=False)

    def no_subprocess(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("git was started outside any repository")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    if lineage._may_be_in_git_repository(outside):
        pytest.skip(f"a directory above {tmp_path} holds a .git entry on this host")
    assert lineage.git_commit(outside) is None


def test_git_dir_in_the_environment_is_always_probed(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    found = lineage.git_commit(outside)
    assert found is not None
    assert len(found["commit"]) == 40
