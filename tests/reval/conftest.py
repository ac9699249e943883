"""REval test fixtures: the task, and the task opened as the engine opens it (a TaskContext with a sandbox pool and
a derived-reference cache of this test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.context import TaskContext
from harness.derived import DerivedCache
from harness.registry import get_task
from harness.task import LoadOptions

TASK = get_task("reval")
FIXTURES = TASK.folder / "fixtures"


def new_task():
    return type(TASK)(TASK.folder)


def samples(data: str | None = None, **args) -> dict:
    task = new_task()
    opts = LoadOptions(data=data, args=task.parse_args({k: str(v) for k, v in args.items()}))
    return {s.id: s for s in task.samples(opts)}


@pytest.fixture(scope="session")
def opened(docker_client, tmp_path_factory):
    """Open tasks by parsing mode: opened("harness") -> a Reval task with a live grader (closed at the end)."""
    folder: Path = tmp_path_factory.mktemp("reval-cache")
    cache = DerivedCache(folder / "derived.sqlite")
    made = {}

    def get(parsing: str = "harness", setting: str = "direct"):
        key = (parsing, setting)
        if key not in made:
            task = new_task()
            ctx = TaskContext(task, grade_workers=2, args=task.parse_args({"parsing": parsing, "setting": setting}),
                              derived=cache)
            task.open(ctx)
            made[key] = (task, ctx)
        return made[key][0]

    yield get
    for task, ctx in made.values():
        task.close()
        ctx.close()


def module(name: str):
    """One of the task's modules (the registry loads the task folder as a package of its own)."""
    return __import__(type(TASK).__module__ + "." + name, fromlist=["x"])
