"""Finding tasks: built-in names, folders by path, and installed plug-ins (entry point group harness.tasks)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from harness.registry import builtin_names, get_task, plugin_names
from harness.task import TaskError

from .conftest import REPO


def test_builtin_tasks_are_found_by_name():
    assert "tmbench" in builtin_names()
    assert get_task("tmbench").name == "tmbench"


def test_a_folder_is_loaded_by_path_without_a_tasks_top_level_package():
    task = get_task(str(REPO / "tests" / "fixtures" / "echo_task"))
    assert task.name == "echo"
    assert "tasks" not in sys.modules  # a user's own tasks.py must never be shadowed


def test_an_installed_plugin_is_found_by_its_entry_point(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "myplugin-0.1.dist-info").mkdir(parents=True)
    (site / "myplugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (site / "myplugin-0.1.dist-info" / "entry_points.txt").write_text("[harness.tasks]\nmine = myplugin:TASK\n")
    (site / "myplugin").mkdir()
    (site / "myplugin" / "__init__.py").write_text(textwrap.dedent(f"""
        import importlib.util, pathlib
        from harness.registry import load_task_folder
        TASK = load_task_folder(pathlib.Path({str(REPO / 'tests' / 'fixtures' / 'echo_task')!r}))
    """))
    monkeypatch.syspath_prepend(str(site))
    assert "mine" in plugin_names()
    assert get_task("mine").name == "echo"


def test_a_folder_without_task_says_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskError, match="no __init__.py defining TASK"):
        get_task(str(tmp_path / "empty"))
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "__init__.py").write_text("TASK = 3\n")
    with pytest.raises(TaskError, match="must define TASK"):
        get_task(str(tmp_path / "wrong"))
