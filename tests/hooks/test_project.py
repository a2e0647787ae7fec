"""A project's namespace: the setting, else the git remote as owner/repo, else a folder's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from athena_mcp.hooks.project import namespace_for


def _repository(root: Path, remote: str | None) -> Path:
    (root / ".git").mkdir(parents=True)
    config = "[core]\n\tbare = false\n"
    if remote is not None:
        config += f'[remote "origin"]\n\turl = {remote}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
    (root / ".git" / "config").write_text(config)
    return root


@pytest.mark.parametrize(
    "remote",
    [
        "git@github.com:Acme/Widget.git",
        "https://github.com/acme/widget",
        "https://user@gitlab.example.com/acme/widget.git/",
        "ssh://git@github.com/acme/widget.git",
    ],
)
def test_the_origin_remote_names_the_namespace_from_any_folder_of_the_repository(
    tmp_path: Path, remote: str
) -> None:
    root = _repository(tmp_path / "checkout", remote)
    (root / "src" / "deep").mkdir(parents=True)
    assert namespace_for(str(root / "src" / "deep")) == "acme/widget"


def test_a_worktree_reads_the_main_repositorys_remote(tmp_path: Path) -> None:
    main = _repository(tmp_path / "main", "git@github.com:acme/widget.git")
    worktree_git = main / ".git" / "worktrees" / "feature"
    worktree_git.mkdir(parents=True)
    (worktree_git / "commondir").write_text("../..\n")
    feature = tmp_path / "feature"
    feature.mkdir()
    (feature / ".git").write_text(f"gitdir: {worktree_git}\n")
    assert namespace_for(str(feature)) == "acme/widget"


@pytest.mark.parametrize(
    ("remote", "namespace"),
    [
        ("https://dev.azure.com/org/proj/_git/api", "org/proj/api"),
        ("git@gitlab.com:groupA/backend/api.git", "groupa/backend/api"),
        ("git@gitlab.com:groupB/backend/api.git", "groupb/backend/api"),
    ],
)
def test_the_whole_path_of_a_remote_keeps_projects_apart(tmp_path: Path, remote: str, namespace: str) -> None:
    assert namespace_for(str(_repository(tmp_path / "checkout", remote))) == namespace


def test_a_folder_name_the_pattern_cannot_hold_never_falls_back_to_the_shared_default(tmp_path: Path) -> None:
    names = {namespace_for(str(_folder(tmp_path / name))) for name in ("проект", "über", "aber", "_hidden")}
    assert len(names) == 4 and "default" not in names


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def test_without_a_remote_the_repository_folder_names_it(tmp_path: Path) -> None:
    root = _repository(tmp_path / "My Project!", None)
    (root / "lib").mkdir()
    assert namespace_for(str(root / "lib")) == "My-Project"


def test_outside_a_repository_the_working_folder_names_it_and_the_setting_wins(tmp_path: Path) -> None:
    folder = tmp_path / "scratch"
    folder.mkdir()
    assert namespace_for(str(folder)) == "scratch"
    assert namespace_for(str(folder), "mine") == "mine"
    assert namespace_for(None) == "default"
