"""COFFE test fixtures: the task, its own small data folder, and a sandbox-backed task opened with a TaskContext
whose derived-reference cache lives in this test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.registry import get_task

TASK = get_task("coffe")
FIXTURE = TASK.folder / "fixtures"


def new_task():
    """An instance of its own: the CLI tests open and close the registry's TASK through the runner."""
    return type(TASK)(TASK.folder)


@pytest.fixture(scope="session")
def graded_task(docker_client, tmp_path_factory):
    """The coffe task opened as the engine opens it: a TaskContext with 2 grade workers and a derived-reference
    cache in a folder of this test session; the task and the context (its pool) are closed at the end."""
    folder: Path = tmp_path_factory.mktemp("coffe-cache")
    task = new_task()
    ctx = TaskContext(task, grade_workers=2, derived=DerivedCache(folder / "derived.sqlite"))
    task.open(ctx)
    try:
        yield task
    finally:
        task.close()
        ctx.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a COFFE test that counts instructions under valgrind for more than a "
                                       "few seconds (deselect with -m 'not slow')")
